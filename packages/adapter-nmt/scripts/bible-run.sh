#!/usr/bin/env bash
# The real NMT run (package README, "Real run"): a small Marian-style base on en-fr, fr-en, en-de Bible verses, frozen,
# then per-pair, per-language (zero-shot fr-de) and per-domain (poetry) adapters, and full fine-tuning as a baseline.
# The full-fine-tuning baseline trains en-fr for STEPS_ONE steps: as many en-fr steps as the pair run's en-fr adapter
# gets (round-robin over 3 directions) when STEPS_ADAPTER = 3 × STEPS_ONE.
# Resumable: a stage whose output exists is skipped (each nmt-train replaces its directory only when it succeeds), and
# a stage that was interrupted resumes from its last checkpoint (RUNS/STAGE.checkpoint.safetensors, every 50 steps).
# Usage: bash scripts/bible-run.sh [RUNS_DIR]   (data: python3 scripts/bible-data.py --out "$DATA")
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
DATA="${DATA:-$HOME/.cache/adapters-ts/bible-nmt}"
RUNS="${1:-$HOME/.cache/adapters-ts/bible-nmt-runs}"
ADAPTERS="${ADAPTERS:-node $HERE/../../cli/bin/adapters.js}"
STEPS_BASE="${STEPS_BASE:-1800}"
STEPS_ADAPTER="${STEPS_ADAPTER:-300}"
STEPS_ONE="${STEPS_ONE:-100}"
EVAL_LIMIT="${EVAL_LIMIT:-100}"
mkdir -p "$RUNS"
[ -f "$DATA/train.en-fr.tsv" ] || python3 "$HERE/bible-data.py" --out "$DATA"
P() { for p in "$@"; do printf -- '--pair %s=%s ' "${p%%:*}" "$DATA/${p#*:}"; done; }
TRAIN3=$(P en-fr:train.en-fr.tsv fr-en:train.fr-en.tsv en-de:train.en-de.tsv)
train() { local out="$RUNS/$1"; shift; [ -f "$out/run.json" ] && { echo "skip $out"; return; }; $ADAPTERS nmt-train "$@" --seed 42 --checkpoint-every 50 --out "$out"; }
evaluate() { local run="$RUNS/$1"; shift; [ -f "$run/eval.test.json" ] && { echo "skip eval $run"; return; }; $ADAPTERS nmt-eval --run "$run" "$@" --limit "$EVAL_LIMIT" --out "$run/eval.test.json"; }

train base --recipe base $TRAIN3 --vocab-size 2000 --d-model 64 --layers 2 --heads 4 --ffn 256 --max-length 48 --batch-size 32 --lr 3e-3 --warmup 100 --dropout 0 --steps "$STEPS_BASE"
train pair --recipe pair --model "$RUNS/base" $TRAIN3 --reduction-factor 4 --lr 3e-3 --steps "$STEPS_ADAPTER"
train language --recipe language --model "$RUNS/base" $TRAIN3 --reduction-factor 4 --lr 3e-3 --steps "$STEPS_ADAPTER"
train poetry --recipe domain --domain poetry --model "$RUNS/base" $(P en-fr:train.poetry.en-fr.tsv) --reduction-factor 4 --lr 3e-3 --steps "$STEPS_ONE"
train full-en-fr --recipe full --model "$RUNS/base" $(P en-fr:train.en-fr.tsv) --lr 5e-4 --steps "$STEPS_ONE"

TEST4=$(P en-fr:test.en-fr.tsv fr-en:test.fr-en.tsv en-de:test.en-de.tsv fr-de:test.fr-de.tsv)
evaluate base $TEST4
evaluate pair $(P en-fr:test.en-fr.tsv fr-en:test.fr-en.tsv en-de:test.en-de.tsv)
evaluate language $TEST4
evaluate full-en-fr $(P en-fr:test.en-fr.tsv)
for r in base full-en-fr pair poetry; do
  [ -f "$RUNS/$r/eval.poetry.json" ] || $ADAPTERS nmt-eval --run "$RUNS/$r" $(P en-fr:test.poetry.en-fr.tsv) --limit "$EVAL_LIMIT" --out "$RUNS/$r/eval.poetry.json"
done
echo "done: $RUNS"
