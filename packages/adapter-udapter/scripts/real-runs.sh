#!/usr/bin/env bash
# The README's real runs, bounded for a shared 2-core machine; rerun to resume (udapter-train continues from its
# last checkpoint, finished evaluations are kept). Usage: bash scripts/real-runs.sh OUT_DIR [MODEL]
# The shared UD sets have dev and test only: dev trains, test evaluates. fr is held out (zero-shot); es and pt are
# never used.
set -euo pipefail
out="${1:?usage: real-runs.sh OUT_DIR [MODEL]}"
model="${2:-me5}"
ud="${UD_DIR:-$(cd "$(dirname "$0")/../../../.." && pwd)/shared/datasets}"
cli="$(cd "$(dirname "$0")/../../cli/bin" && pwd)/adapters.js"
steps="${STEPS:-60}"
run() { nice -n 10 env OPENBLAS_NUM_THREADS=1 node "$cli" "$@"; }
mkdir -p "$out"
train=(--model "$model" --treebank "en=$ud/ud-en-ewt/en_ewt-ud-dev.conllu,de=$ud/ud-de-gsd/de_gsd-ud-dev.conllu"
  --steps "$steps" --batch-size 8 --max-length 40 --max-sentences 600 --lr 3e-3 --save-every 10 --seed 42)
for variant in generator shared; do
  dir="$out/$model-$variant"
  extra=(); [ "$variant" = shared ] && extra=(--no-generator)
  run udapter-train "${train[@]}" "${extra[@]}" --out "$dir"
  for lang in en de fr; do
    case $lang in en) f="$ud/ud-en-ewt/en_ewt-ud-test.conllu";; de) f="$ud/ud-de-gsd/de_gsd-ud-test.conllu";; fr) f="$ud/ud-fr-gsd/fr_gsd-ud-test.conllu";; esac
    res="$dir/eval-$lang.json"
    [ -s "$res" ] || run udapter-eval --run "$dir" --lang "$lang" --data "$f" --max-sentences "${EVAL_SENTENCES:-100}" --max-length 40 > "$res"
    cat "$res"
  done
done
