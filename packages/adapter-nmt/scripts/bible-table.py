#!/usr/bin/env python3
"""Prints the real run's table (markdown) from the run directories bible-run.sh wrote: BLEU / chrF per direction
(greedy, as nmt-eval measured them), parameters each direction adds to the frozen base, and the training loss (mean
token cross-entropy of the first and the last 50 steps, from metrics.jsonl; single steps are noisy)."""
import json, os, sys

RUNS = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser('~/.cache/adapters-ts/bible-nmt-runs')
ROWS = [('base', 'frozen base (no adapters)'), ('full-en-fr', 'full fine-tuning, en-fr'), ('pair', 'per-pair adapters (Bapna & Firat)'),
        ('language', 'per-language adapters (Philip et al.)'), ('poetry', 'domain adapter: poetry (en-fr data)')]
COLS = ['en-fr', 'fr-en', 'en-de', 'fr-de']


def mean_losses(run, n=50):
    try:
        with open(os.path.join(RUNS, run, 'metrics.jsonl')) as f:
            losses = [r['loss'] for r in map(json.loads, f) if r.get('type') == 'step']
    except FileNotFoundError:
        return None
    return sum(losses[:n]) / len(losses[:n]), sum(losses[-n:]) / len(losses[-n:])


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


print('| model | trainable / direction | steps | loss first 50 → last 50 | ' + ' | '.join(COLS[:3]) + ' | fr-de (zero-shot) | poetry en-fr |')
print('|---|---|---|---|' + '---|' * 5)
for run, label in ROWS:
    manifest = load(os.path.join(RUNS, run, 'run.json'))
    if manifest is None:
        continue
    nmt = manifest['extras']['nmt']
    test = (load(os.path.join(RUNS, run, 'eval.test.json')) or {}).get('results', {})
    poetry = (load(os.path.join(RUNS, run, 'eval.poetry.json')) or {}).get('results', {})
    cell = lambda r: f"{r['bleu']:.2f} / {r['chrf']:.1f}" if r else '–'
    params = sorted({r['pairParams'] for r in list(test.values()) + list(poetry.values())})
    cells = [cell(test.get(c)) for c in COLS] + [cell(poetry.get('en-fr'))]
    first, last = mean_losses(run) or (nmt['firstLoss'], nmt['lastLoss'])
    print(f"| {label} | {', '.join(f'{p:,}' for p in params) or '–'} | {nmt['steps']} | {first:.2f} → {last:.2f} | " + ' | '.join(cells) + ' |')
