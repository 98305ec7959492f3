#!/usr/bin/env bash
# The README's real runs, bounded for a shared 2-core machine; rerun to resume (udapter-train continues from its
# last checkpoint, finished evaluations are kept). Usage: bash scripts/real-runs.sh OUT_DIR [MODEL...]
# Trains on en (EWT dev), de (GSD dev), it (ISDT dev), the same number of sentences each; evaluates on their test
# sets (in-language) and zero-shot on fr (GSD test), never trained on. es and pt are never used.
# Treebanks: UD_DIR (default OUT_DIR/ud) must hold ud-{en-ewt,de-gsd,it-isdt,fr-gsd}; get them with
#   adapters udapter-fetch --treebank en-ewt,de-gsd,fr-gsd,it-isdt --out OUT_DIR/ud   (or --from a local mirror).
# me5 is trimmed to the pieces of these files first (outputs unchanged for them; see scripts/trim-model.ts).
set -euo pipefail
out="${1:?usage: real-runs.sh OUT_DIR [MODEL...]}"
shift
models=("${@:-me5}")
here="$(cd "$(dirname "$0")" && pwd)"
ud="${UD_DIR:-$out/ud}"
cli="$(cd "$here/../../cli/bin" && pwd)/adapters.js"
steps="${STEPS:-150}"
per="${PER_LANGUAGE:-200}"
maxlen="${MAX_LENGTH:-48}"
kdim="${LANGUAGE_DIM:-8}"
nice_run() { nice -n 10 env OPENBLAS_NUM_THREADS=1 "$@"; }
mkdir -p "$out"
declare -A dev=([en]="$ud/ud-en-ewt/en_ewt-ud-dev.conllu" [de]="$ud/ud-de-gsd/de_gsd-ud-dev.conllu" [it]="$ud/ud-it-isdt/it_isdt-ud-dev.conllu")
declare -A test=([en]="$ud/ud-en-ewt/en_ewt-ud-test.conllu" [de]="$ud/ud-de-gsd/de_gsd-ud-test.conllu" [it]="$ud/ud-it-isdt/it_isdt-ud-test.conllu" [fr]="$ud/ud-fr-gsd/fr_gsd-ud-test.conllu")
for f in "${dev[@]}" "${test[@]}"; do [ -s "$f" ] || { echo "missing $f (run adapters udapter-fetch first)" >&2; exit 1; }; done
for model in "${models[@]}"; do
  base="$model"
  if [ "$model" = me5 ]; then
    base="$out/me5-trimmed"
    [ -s "$base/vocab-remap.json" ] || (cd "$here/.." && nice_run env TS_NODE_PROJECT=scripts/tsconfig.json TS_NODE_TRANSPILE_ONLY=1 \
      node -r ts-node/register -r tsconfig-paths/register scripts/trim-model.ts multilingual-e5-small "$base" "${dev[@]}" "${test[@]}" "$ud/ud-fr-gsd/fr_gsd-ud-dev.conllu" ${TRIM_EXTRA:-})
  fi
  for variant in generator shared; do
    dir="$out/$model-$variant"
    extra=(--language-dim "$kdim"); [ "$variant" = shared ] && extra=(--no-generator)
    if ! grep -q "\"steps\": *$steps\b" "$dir/udapter_config.json" 2>/dev/null; then
      nice_run node "$cli" udapter-train --model "$base" --treebank "en=${dev[en]},de=${dev[de]},it=${dev[it]}" \
        --steps "$steps" --batch-size 8 --max-length "$maxlen" --per-language "$per" --lr 3e-3 --save-every 25 --seed 42 \
        "${extra[@]}" --out "$dir" 2>&1 | tee -a "$dir.log"
    fi
    for lang in en de it fr; do
      res="$dir/eval-$lang.json"
      if [ ! -s "$res" ]; then
        nice_run node "$cli" udapter-eval --run "$dir" --lang "$lang" --data "${test[$lang]}" \
          --max-sentences "${EVAL_SENTENCES:-100}" --max-length "$maxlen" > "$res.part"
        mv "$res.part" "$res"
      fi
      cat "$res"
    done
  done
done
