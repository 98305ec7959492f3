#!/usr/bin/env python3
"""Reference BLEU (13a tokenisation) and chrF / chrF++ scores from sacreBLEU for a small hand-written corpus.

    /tmp/parity-venv/bin/pip install sacrebleu==2.6.0
    /tmp/parity-venv/bin/python tools/parity/make_metric_fixtures.py

Writes tools/parity/fixtures/metrics/sacrebleu.json: the corpus (written for this test: punctuation, numbers with
separators, hyphens, HTML entities, accents, CJK, odd whitespace (Python's: \\x1c counts, a BOM does not), an empty hypothesis, two reference streams), each
line's 13a tokenisation, and sacreBLEU's corpus scores with their statistics.
"""

from __future__ import annotations

import json
from pathlib import Path

import sacrebleu
from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

OUT = Path(__file__).resolve().parent / "fixtures" / "metrics" / "sacrebleu.json"

HYPS = [
    "The cat sat on the mat.",
    "In 2024, prices rose by 3.5% -- or 1,200 euros -- in the north-west.",
    "He said: \"Don't go there!\" and left (quickly).",
    "Tom &amp; Jerry &lt;3 the show&quot;s end",
    "Élise a mangé une pomme à Noël.",
    "",
    "东京 is big ,really big.",
    "  leading and   trailing\tspaces  ",
    "a b c d e f g",
    "split\x1con a separator\u00a0and\ufeffnot on a BOM",
    "The quick brown fox jumps over the lazy dog's back-yard fence at 10:30.",
]
REFS_A = [
    "The cat sat on a mat.",
    "In 2024, prices rose 3.5% -- or 1,200 euros -- in the north-west.",
    "He said: \"Do not go there!\" and left quickly.",
    "Tom & Jerry <3 the show's ending",
    "Élise a mangé une pomme à Noël !",
    "Nothing was said.",
    "东京 is large, really large.",
    "leading and trailing spaces",
    "a b c d e f g h",
    "split on a separator and not on a BOM",
    "A quick brown fox jumped over the lazy dog's backyard fence at 10:30.",
]
REFS_B = [
    "There is a cat on the mat.",
    "Prices went up 3.5 % in 2024 in the north-west, or 1.200 euros.",
    "\"Don't go there!\" he said, and left in a hurry.",
    "Tom and Jerry love the show's end",
    "Elise mangea une pomme à Noël.",
    "",
    "Tokyo is big, really big.",
    "leading and trailing spaces",
    "g f e d c b a",
    "split\x1con a separator and\ufeffnot on a BOM",
    "The fast brown fox leaps over the lazy dog's back-yard fence at 10.30.",
]


def bleu_json(score) -> dict:
    return dict(score=score.score, counts=score.counts, totals=score.totals, sys_len=score.sys_len, ref_len=score.ref_len, bp=score.bp)


def main() -> None:
    tok = Tokenizer13a()
    lines = HYPS + REFS_A + REFS_B
    out = dict(
        sacrebleu=sacrebleu.__version__,
        hypotheses=HYPS,
        references=[REFS_A, REFS_B],
        tokenized_13a=[tok(line.rstrip()) for line in lines],
        bleu_one_ref=bleu_json(BLEU().corpus_score(HYPS, [REFS_A])),
        bleu_two_refs=bleu_json(BLEU().corpus_score(HYPS, [REFS_A, REFS_B])),
        bleu_lowercase=bleu_json(BLEU(lowercase=True).corpus_score(HYPS, [REFS_A])),
        chrf_one_ref=CHRF().corpus_score(HYPS, [REFS_A]).score,
        chrf_two_refs=CHRF().corpus_score(HYPS, [REFS_A, REFS_B]).score,
        chrf_pp_two_refs=CHRF(word_order=2).corpus_score(HYPS, [REFS_A, REFS_B]).score,
        sentence_bleu=[BLEU(effective_order=True).sentence_score(h, [r]).score for h, r in zip(HYPS, REFS_A)],
        sentence_chrf=[CHRF().sentence_score(h, [r]).score for h, r in zip(HYPS, REFS_A)],
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print(out["bleu_one_ref"], out["bleu_two_refs"]["score"], out["chrf_one_ref"], out["chrf_two_refs"], out["chrf_pp_two_refs"])


if __name__ == "__main__":
    main()
