#!/usr/bin/env bash
# MAD-X zero-shot UPOS on multilingual-e5-small with the madx CLI, bounded for a shared 2-core machine; rerun to
# resume (finished adapters and evaluations are kept). Usage: bash scripts/real-runs-me5.sh OUT_DIR [MODEL_DIR]
# MODEL_DIR: a model folder or name (default me5); adapter-udapter's real-runs.sh leaves a vocabulary-trimmed me5 in
# its OUT_DIR/me5-trimmed (same outputs on these files, a fraction of the memory).
# Data: UD_DIR (default OUT_DIR/ud) with ud-{en-ewt,de-gsd,fr-gsd}[,it-isdt] (adapters udapter-fetch). Language
# adapters: masked-LM on the first MLM_SENTENCES '# text' lines of each dev set; task adapter: UPOS on English dev;
# evaluation: the first EVAL_SENTENCES sentences of each test set. es and pt are never used.
set -euo pipefail
out="${1:?usage: real-runs-me5.sh OUT_DIR [MODEL_DIR]}"
model="${2:-me5}"
ud="${UD_DIR:-$out/ud}"
cli="$(cd "$(dirname "$0")/../../cli/bin" && pwd)/adapters.js"
lang_steps="${MLM_STEPS:-60}"
task_steps="${TAG_STEPS:-150}"
maxlen="${MAX_LEN:-48}"
run() { nice -n 10 env OPENBLAS_NUM_THREADS=1 node "$cli" "$@"; }
# The first N sentences of a CoNLL-U file (sentences end with a blank line).
head_conllu() { awk -v n="$2" 'BEGIN { RS = ""; ORS = "\n\n" } NR <= n' "$1"; }
mkdir -p "$out/data"
declare -A dev=([en]="$ud/ud-en-ewt/en_ewt-ud-dev.conllu" [de]="$ud/ud-de-gsd/de_gsd-ud-dev.conllu" [fr]="$ud/ud-fr-gsd/fr_gsd-ud-dev.conllu" [it]="$ud/ud-it-isdt/it_isdt-ud-dev.conllu")
declare -A test=([en]="$ud/ud-en-ewt/en_ewt-ud-test.conllu" [de]="$ud/ud-de-gsd/de_gsd-ud-test.conllu" [fr]="$ud/ud-fr-gsd/fr_gsd-ud-test.conllu" [it]="$ud/ud-it-isdt/it_isdt-ud-test.conllu")
langs=(${LANGS:-en de fr})
for l in "${langs[@]}"; do
  head_conllu "${dev[$l]}" "${MLM_SENTENCES:-400}" > "$out/data/$l-mlm.conllu"
  head_conllu "${test[$l]}" "${EVAL_SENTENCES:-200}" > "$out/data/$l-test.conllu"
done
head_conllu "${dev[en]}" "${TAG_SENTENCES:-800}" > "$out/data/en-pos.conllu"
common=(--max-length "$maxlen" --batch-size 8 --lr "${LR:-1e-3}" --seed 1)
for l in "${langs[@]}"; do
  [ -s "$out/lang-$l/summary.json" ] || run madx-lang --model "$model" --text "$out/data/$l-mlm.conllu" --lang "$l" --steps "$lang_steps" "${common[@]}" --out "$out/lang-$l" 2>&1 | tail -4
done
[ -s "$out/pos/summary.json" ] || run madx-task --model "$model" --lang-adapter "$out/lang-en" --data "$out/data/en-pos.conllu" --task pos --steps "$task_steps" "${common[@]}" --out "$out/pos" 2>&1 | tail -4
evaluate() { # NAME ARGS...
  local res="$out/eval-$1.txt"; shift
  if [ ! -s "$res" ]; then run madx-eval --task-adapter "$out/pos" "$@" > "$res.part"; mv "$res.part" "$res"; fi
  echo "== $res"; cat "$res"
}
for l in "${langs[@]}"; do
  evaluate "$l-alone" --no-lang --data "$out/data/$l-test.conllu"
  evaluate "$l-en" --lang-adapter "$out/lang-en" --data "$out/data/$l-test.conllu"
  [ "$l" = en ] || evaluate "$l-own" --lang-adapter "$out/lang-$l" --data "$out/data/$l-test.conllu"
done
