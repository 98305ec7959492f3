#!/usr/bin/env python3
"""T5 + AdapterHub parity fixtures: the tiny random T5 v1.0 / v1.1 models of make_t5_fixtures.py carrying an AdapterHub
1.3.0 bottleneck adapter (seq_bn, double_seq_bn, par_bn; all with cross_adapter=True, so the decoder's cross-attention
gets one too), their decoder logits under teacher forcing and greedy / beam generate() outputs.

Run from the repository root after make_t5_fixtures.py (never in CI; the fixtures are committed):

    /work/venv-parity/bin/python tools/parity/make_t5_adapter_fixtures.py

Writes tools/parity/fixtures/t5/<variant>_<method>/: adapter/ (save_adapter, safetensors, AdapterHub's T5 key names:
`encoder.block.0.layer.0.adapters.a.adapter_down.0.weight`), expected.safetensors (logits; `logits_float64`: the
float64 forward pass rounded to float32), meta.json (adapter config, generate() settings and outputs). The base model
and inputs are the variant's (fixtures/t5/<variant>/base, inputs.safetensors); the script checks it rebuilt that base.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from transformers import T5Config, T5ForConditionalGeneration

import adapters
from adapters import DoubleSeqBnConfig, ParBnConfig, SeqBnConfig
from make_t5_fixtures import GENERATE, SIZES, VARIANTS

ROOT = Path(__file__).resolve().parent / "fixtures" / "t5"
METHODS = {
    "seq_bn": SeqBnConfig(reduction_factor=4, cross_adapter=True),
    "double_seq_bn": DoubleSeqBnConfig(reduction_factor=4, cross_adapter=True),
    "par_bn": ParBnConfig(reduction_factor=4, cross_adapter=True),
}


def base_model(variant: str) -> T5ForConditionalGeneration:
    """The variant's base exactly as make_t5_fixtures.py draws it (checked against the saved weights)."""
    torch.manual_seed(0)
    model = T5ForConditionalGeneration(T5Config(**SIZES, **VARIANTS[variant])).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    saved = load_file(str(ROOT / variant / "base" / "model.safetensors"))
    state = model.state_dict()
    for k, v in saved.items():
        assert torch.equal(state[k], v), f"{variant}: {k} differs from the saved base: run make_t5_fixtures.py first"
    return model


def main() -> None:
    for variant in VARIANTS:
        inputs = load_file(str(ROOT / variant / "inputs.safetensors"))
        for method, cfg in METHODS.items():
            model = base_model(variant)
            with torch.no_grad():
                base_logits = model(**inputs).logits
            adapters.init(model)
            model.add_adapter("a", config=cfg)
            gen = torch.Generator().manual_seed(2)
            with torch.no_grad():  # AdapterHub zero-initialises adapter_up: redraw so the adapter changes the outputs
                for name, p in model.named_parameters():
                    if ".adapters.a." in name:
                        p.copy_(0.3 * torch.randn(p.shape, generator=gen))
            model.set_active_adapters("a")
            model.eval()
            with torch.no_grad():
                logits = model(**inputs).logits
                moved = (logits - base_logits).abs().max().item()
                assert moved > 1e-2, f"{variant} {method}: the adapter moved the logits by only {moved}"
                logits64 = model.double()(**inputs).logits.float()
            model.float()
            out = ROOT / f"{variant}_{method}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True)
            model.save_adapter(str(out / "adapter"), "a", use_safetensors=True)
            # AdapterHub also saves the LM head as a "head"; it is part of the base here.
            (out / "adapter" / "head_config.json").unlink(missing_ok=True)
            (out / "adapter" / "model_head.safetensors").unlink(missing_ok=True)
            save_file({"logits": logits.contiguous(), "logits_float64": logits64.contiguous()}, str(out / "expected.safetensors"))
            runs = []
            for settings in GENERATE:
                with torch.no_grad():
                    ids = model.generate(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], do_sample=False, **settings)
                runs.append({"settings": settings, "ids": ids.tolist()})
            meta = {"base": variant, "config": cfg.to_dict(), "moved": moved, "generate": runs}
            (out / "meta.json").write_text(json.dumps(meta, indent=1, default=str) + "\n")
            print(variant, method, "moved", round(moved, 3), runs[1]["ids"])


if __name__ == "__main__":
    main()
