#!/usr/bin/env python3
"""T5 parity fixtures: tiny random T5ForConditionalGeneration models (transformers 4.57.6), their decoder logits under
teacher forcing and greedy / beam generate() outputs, for adapter-nmt's `buildT5` / `loadT5`.

Run from the repository root (never in CI; the fixtures are committed):

    /work/venv-parity/bin/python tools/parity/make_t5_fixtures.py

Writes tools/parity/fixtures/t5/<variant>/: base/ (save_pretrained, safetensors), inputs.safetensors (input_ids,
attention_mask, decoder_input_ids; int64), expected.safetensors (logits, float32), meta.json (generate() settings and
outputs; `logits_float64`: the float64 forward pass rounded to float32). Variants: `t5` (T5 v1.0: ReLU feed-forward, LM head tied to the embedding with the d_model^-0.5 scale) and
`t5_v1_1` (gated-GELU feed-forward, separate LM head).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import T5Config, T5ForConditionalGeneration

ROOT = Path(__file__).resolve().parent / "fixtures" / "t5"
SIZES = dict(vocab_size=40, d_model=16, d_kv=4, d_ff=32, num_layers=2, num_decoder_layers=2, num_heads=4,
             relative_attention_num_buckets=8, relative_attention_max_distance=20, dropout_rate=0.0, layer_norm_epsilon=1e-6,
             pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
VARIANTS = {"t5": dict(feed_forward_proj="relu", tie_word_embeddings=True), "t5_v1_1": dict(feed_forward_proj="gated-gelu", tie_word_embeddings=False)}
GENERATE = [dict(num_beams=1, max_length=12), dict(num_beams=3, max_length=12, length_penalty=1.0, early_stopping=True),
            dict(num_beams=4, max_length=10, length_penalty=0.6, early_stopping=False)]


def main() -> None:
    shutil.rmtree(ROOT, ignore_errors=True)
    for name, extra in VARIANTS.items():
        torch.manual_seed(0)
        model = T5ForConditionalGeneration(T5Config(**SIZES, **extra)).eval()
        with torch.no_grad():
            for p in model.parameters():  # larger weights than the default init, so every path shows in the outputs
                p.add_(torch.randn_like(p) * 0.5)
        out = ROOT / name
        model.save_pretrained(out / "base", safe_serialization=True)
        g = torch.Generator().manual_seed(1)
        input_ids = torch.randint(2, 40, (2, 9), generator=g)
        input_ids[0, -1] = 1
        input_ids[1, 6] = 1
        input_ids[1, 7:] = 0
        attention_mask = (torch.arange(9)[None, :] < torch.tensor([[9], [7]])).long()
        decoder_input_ids = torch.cat([torch.zeros(2, 1, dtype=torch.long), torch.randint(2, 40, (2, 6), generator=g)], dim=1)
        with torch.no_grad():
            logits = model(input_ids=input_ids, attention_mask=attention_mask, decoder_input_ids=decoder_input_ids).logits
        save_file({"input_ids": input_ids, "attention_mask": attention_mask, "decoder_input_ids": decoder_input_ids}, str(out / "inputs.safetensors"))
        with torch.no_grad():  # the same forward pass in float64: how far float32 itself is from exact
            logits64 = model.double()(input_ids=input_ids, attention_mask=attention_mask, decoder_input_ids=decoder_input_ids).logits
        model.float()
        save_file({"logits": logits.contiguous(), "logits_float64": logits64.float().contiguous()}, str(out / "expected.safetensors"))
        runs = []
        for settings in GENERATE:
            with torch.no_grad():
                ids = model.generate(input_ids=input_ids, attention_mask=attention_mask, do_sample=False, **settings)
            runs.append({"settings": settings, "ids": ids.tolist()})
        (out / "meta.json").write_text(json.dumps({"generate": runs}, indent=1) + "\n")
        print(name, runs[0]["ids"])


if __name__ == "__main__":
    main()
