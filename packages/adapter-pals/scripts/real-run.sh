#!/usr/bin/env bash
# Real run (not in CI): multi-task PALs over GLUE RTE, MRPC, SST-2 and CoLA on all-MiniLM-L6-v2, beside one
# Pfeiffer (seq_bn) adapter per task (AdapterFusion's ST-A stage 1) with the same total step budget, both through
# the `adapters` CLI. Training and dev sets are subsampled (seeded) so the whole run stays bounded on a busy 2-core
# machine. Accuracies are whatever the commands print: nothing is asserted.
#   bash packages/adapter-pals/scripts/real-run.sh     (env: OUT STEPS TRAIN DEV MAXLEN BATCH LR EPOCHS SEED EVAL=1 GLUE_DIR)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
OUT="${OUT:-/tmp/pals-real-run}"
STEPS="${STEPS:-96}"          # PALs: steps over all tasks; Pfeiffer: STEPS/4 per task
TRAIN="${TRAIN:-4000}"       # training examples per task at most
DEV="${DEV:-200}"            # dev examples per task at most
MAXLEN="${MAXLEN:-48}"
BATCH="${BATCH:-16}"
LR="${LR:-2e-3}"
EPOCHS="${EPOCHS:-3}"        # the annealed sampling's E
SEED="${SEED:-42}"
DATA="${GLUE_DIR:-$root/../shared/datasets}"
[ -d "$DATA/glue-rte" ] || DATA=/work/shared/datasets
adapters() { (cd "$root" && node packages/cli/bin/adapters.js "$@"); }

mkdir -p "$OUT"
node "$here/prepare-glue.js" "$DATA" "$OUT/data" --train "$TRAIN" --dev "$DEV"
tasks=()
for t in rte mrpc sst2 cola; do tasks+=(--task "$t=$OUT/data/$t/train.tsv,$OUT/data/$t/dev.tsv"); done
common=(--model all-MiniLM-L6-v2 --batch-size "$BATCH" --max-length "$MAXLEN" --lr "$LR" --seed "$SEED")

start=$(date +%s)
adapters pals-train "${common[@]}" "${tasks[@]}" --epochs "$EPOCHS" --max-steps "$STEPS" --out "$OUT/pals" | tee "$OUT/pals-train.txt"
pals_end=$(date +%s)
# pals-eval re-reads every task folder and evaluates again (EVAL=1; it repeats pals-train's numbers, at the cost of a pass).
[ "${EVAL:-0}" = 1 ] && adapters pals-eval --run "$OUT/pals" | tee "$OUT/pals-eval.txt"
eval_end=$(date +%s)
adapters fusion-stage1 "${common[@]}" "${tasks[@]}" --adapter seq_bn --max-steps $((STEPS / 4)) --out "$OUT/pfeiffer" | tee "$OUT/pfeiffer.txt"
end=$(date +%s)
echo "seconds: pals-train $((pals_end - start)), pals-eval $((eval_end - pals_end)), pfeiffer (4 × $((STEPS / 4)) steps) $((end - eval_end)), total $((end - start))" | tee "$OUT/times.txt"
