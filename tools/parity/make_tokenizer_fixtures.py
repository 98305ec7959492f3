#!/usr/bin/env python3
"""Tokenizer fixtures for adapter-nmt's `loadHfTokenizer` (@huggingface/tokenizers): two small fast tokenizers trained
here with `tokenizers` 0.22 and wrapped by transformers 4.57's fast tokenizer classes, saved with save_pretrained, and
the ids / decodings the Python tokenizer gives for a few sentences.

Run from the repository root (never in CI; the fixtures are committed):

    /work/venv-parity/bin/python tools/parity/make_tokenizer_fixtures.py

Writes tools/parity/fixtures/tokenizers/<name>/ (tokenizer.json, tokenizer_config.json, special_tokens_map.json)
and <name>/expected.json. `bart`: byte-level BPE (BartTokenizerFast: <s> … </s>); `mbart_like`: a SentencePiece-style
Unigram with Metaspace pre-tokenisation (PreTrainedTokenizerFast with a </s> post-processor, as Marian/T5 models use).
The training text is our own sentences (no fetched data).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import BartTokenizerFast, PreTrainedTokenizerFast

ROOT = Path(__file__).resolve().parent / "fixtures" / "tokenizers"
CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "A small house stands near the river, and the dogs sleep.",
    "Le petit chien dort près de la rivière; il fait beau.",
    "Der kleine Hund schläft am Fluss, und es ist schön.",
    "Numbers like 12 and 2026 appear too: 3.5% of 1,000!",
] * 20
TEXTS = [
    "The small dog sleeps near the house.",
    "Le chien dort près de la maison, n'est-ce pas ?",
    "Der Hund schläft.  Zwei   Leerzeichen und Umlaute: äöü ß",
    "Unseen words: zebra quixotic, 42 × 7 = 294",
    "",
]


def bart() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    tok.post_processor = processors.RobertaProcessing(sep=("</s>", tok.token_to_id("</s>")), cls=("<s>", tok.token_to_id("<s>")), trim_offsets=True, add_prefix_space=False)
    return BartTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>")


def unigram() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(" {2,}", " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(vocab_size=200, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>")
    tok.train_from_iterator(CORPUS, trainer)
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A $B </s>", special_tokens=[("</s>", tok.token_to_id("</s>"))])
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="</s>", unk_token="<unk>", pad_token="<pad>")


def main() -> None:
    shutil.rmtree(ROOT, ignore_errors=True)
    for name, make in [("bart", bart), ("mbart_like", unigram)]:
        out = ROOT / name
        tok = make()
        tok.save_pretrained(out)
        for extra in ["vocab.json", "merges.txt"]:
            (out / extra).unlink(missing_ok=True)
        cases = []
        for text in TEXTS:
            ids = tok(text)["input_ids"]
            cases.append({"text": text, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=True), "decodedWithSpecial": tok.decode(ids, skip_special_tokens=False)})
        (out / "expected.json").write_text(json.dumps({"class": type(tok).__name__, "vocabSize": len(tok), "cases": cases}, ensure_ascii=False, indent=1) + "\n")
        print(name, len(tok), cases[0]["ids"])


if __name__ == "__main__":
    main()
