#!/usr/bin/env python3
"""Builds the encoder-decoder parity fixtures: tiny random MarianMTModel and BartForConditionalGeneration, their
decoder logits (teacher forcing), greedy and beam `generate()` outputs, and AdapterHub 1.3.0 bottleneck adapters
(encoder, decoder and cross-attention) on the BART model.

Run from the repository root (never in CI; the fixtures are committed):

    /tmp/parity-venv/bin/python tools/parity/make_seq2seq_fixtures.py

Writes tools/parity/fixtures/seq2seq/:
    <model>/base/config.json, model.safetensors   save_pretrained(safe_serialization=True) of the random model
    <model>/inputs.safetensors                    input_ids, attention_mask, decoder_input_ids (int64)
    <model>/expected.safetensors                  logits (float32)
    <model>/meta.json                             token ids, generate() settings (VARIANTS) and outputs
    bart_<method>/adapter/...                     model.save_adapter(..., use_safetensors=True) as written
    bart_<method>/expected.safetensors            logits with the adapter active (meta.json: its generate() outputs)
AdapterHub 1.3.0 has no Marian model class, so the adapter fixtures are BART's.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import BartConfig, BartForConditionalGeneration, GenerationConfig, MarianConfig, MarianMTModel, MBartConfig, MBartForConditionalGeneration

import adapters
from adapters import DoubleSeqBnConfig, ParBnConfig, SeqBnConfig

ROOT = Path(__file__).resolve().parent / "fixtures" / "seq2seq"
SEED = 0
SIZES = dict(
    vocab_size=48, d_model=16, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4,
    encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=32, dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
)
# Batch of 2 sources, length 7; row 1 has 2 padding positions at the end.
MARIAN = dict(pad=47, eos=0, start=47, bos=None)
BART = dict(pad=1, eos=2, start=2, bos=0)
# mBART: pre-LN; the forced first token stands for a target-language code.
MBART = dict(pad=1, eos=2, start=2, bos=5)
# Picked so that some hypotheses end before max_length and others reach it (EOS handling in greedy and beam search).
EOS_BOOST = dict(marian=4.0, bart=5.0, mbart=4.0)
GEN = dict(max_length=12, num_beams=3, length_penalty=1.3)


def redraw(model: torch.nn.Module, gen: torch.Generator, select=lambda name: True, scale=0.3) -> None:
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not select(name):
                continue
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float32)
            if p.dim() == 1 and "norm" in name.lower() and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * noise)
            elif name.endswith("bias"):
                p.copy_(0.1 * noise)
            else:
                p.copy_(scale * noise)


def make_inputs(ids: dict) -> dict:
    src = [[5, 17, 33, 9, 21, 30, ids["eos"]], [11, 40, 6, 25, ids["eos"], ids["pad"], ids["pad"]]]
    mask = [[1] * 7, [1] * 5 + [0] * 2]
    dec = [[ids["start"], 7, 19, 44, 3], [ids["start"], 12, 12, 28, 36]]
    return dict(input_ids=torch.tensor(src), attention_mask=torch.tensor(mask), decoder_input_ids=torch.tensor(dec))


# generate() settings checked against ours: greedy and beam search with different penalties, stopping rules and banned tokens.
VARIANTS = {
    "greedy": dict(num_beams=1),
    "beam": dict(num_beams=GEN["num_beams"], length_penalty=GEN["length_penalty"], early_stopping=False),
    "beam4_early": dict(num_beams=4, length_penalty=0.6, early_stopping=True),
    "beam2_never": dict(num_beams=2, length_penalty=2.0, early_stopping="never"),
    "beam5_short": dict(num_beams=5, length_penalty=-0.5, early_stopping=False, max_length=7),
    # Single-token bad words (real Marian configs ban the pad token this way), two tokens the models like.
    "greedy_bad": dict(num_beams=1, bad_words_ids=[[38], [28]]),
    "beam3_bad": dict(num_beams=3, bad_words_ids=[[38], [28], [35]]),
}


def generate(model, inputs: dict, ids: dict) -> dict:
    common = dict(
        input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], do_sample=False, max_length=GEN["max_length"],
        decoder_start_token_id=ids["start"], eos_token_id=ids["eos"], pad_token_id=ids["pad"],
    )
    if ids["bos"] is not None:
        common["forced_bos_token_id"] = ids["bos"]
    return {name: model.generate(**{**common, **settings}) for name, settings in VARIANTS.items()}


def build(kind: str):
    torch.manual_seed(SEED)
    ids = dict(marian=MARIAN, bart=BART, mbart=MBART)[kind]
    if kind == "marian":
        config = MarianConfig(**SIZES, pad_token_id=ids["pad"], eos_token_id=ids["eos"], decoder_start_token_id=ids["start"],
                              forced_eos_token_id=None, activation_function="swish", scale_embedding=True)
        model = MarianMTModel(config)
    elif kind == "mbart":
        config = MBartConfig(**SIZES, pad_token_id=ids["pad"], eos_token_id=ids["eos"], bos_token_id=0,
                             decoder_start_token_id=ids["start"], forced_eos_token_id=None, forced_bos_token_id=None,
                             activation_function="gelu", scale_embedding=True)
        model = MBartForConditionalGeneration(config)
    else:
        config = BartConfig(**SIZES, pad_token_id=ids["pad"], eos_token_id=ids["eos"], bos_token_id=ids["bos"],
                            decoder_start_token_id=ids["start"], forced_eos_token_id=None, forced_bos_token_id=None,
                            activation_function="gelu", scale_embedding=False)
        model = BartForConditionalGeneration(config)
    gen = torch.Generator().manual_seed(SEED)
    redraw(model, gen, lambda n: "embed_positions" not in n or kind != "marian")
    with torch.no_grad():
        model.final_logits_bias.copy_(0.5 * torch.randn(model.final_logits_bias.shape, generator=gen))
        # EOS likely enough that some hypotheses end before max_length (exercises EOS handling in beam search).
        model.final_logits_bias[0, ids["eos"]] += EOS_BOOST[kind]
    model.generation_config = GenerationConfig(decoder_start_token_id=ids["start"], eos_token_id=ids["eos"], pad_token_id=ids["pad"])
    model.eval()
    return model, ids


def write_base(kind: str) -> tuple:
    model, ids = build(kind)
    out = ROOT / kind
    if out.exists():
        shutil.rmtree(out)
    (out / "base").mkdir(parents=True)
    model.save_pretrained(out / "base", safe_serialization=True)
    (out / "base" / "generation_config.json").unlink(missing_ok=True)
    inputs = make_inputs(ids)
    save_file({k: v.contiguous() for k, v in inputs.items()}, out / "inputs.safetensors")
    with torch.no_grad():
        logits = model(**inputs).logits.float()
    outs = generate(model, inputs, ids)
    save_file({"logits": logits.contiguous()}, out / "expected.safetensors")
    meta = dict(ids=ids, generation=GEN, variants=VARIANTS, outputs={k: v.tolist() for k, v in outs.items()})
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    for k, v in outs.items():
        print(kind, k, v.tolist())
    return model, ids, inputs, logits


ADAPTERS = {
    "seq_bn": SeqBnConfig(reduction_factor=4, cross_adapter=True),
    "double_seq_bn": DoubleSeqBnConfig(reduction_factor=4, cross_adapter=True),
    "par_bn": ParBnConfig(reduction_factor=4, cross_adapter=True),
    "seq_bn_plain": SeqBnConfig(reduction_factor=4),
}


def write_adapters(base_logits: torch.Tensor, inputs: dict) -> None:
    for method, cfg in ADAPTERS.items():
        model, _ids = build("bart")
        adapters.init(model)
        model.add_adapter("a", config=cfg)
        gen = torch.Generator().manual_seed(SEED + 1)
        redraw(model, gen, lambda n: ".adapters.a." in n)
        model.set_active_adapters("a")
        model.eval()
        with torch.no_grad():
            logits = model(**inputs).logits.float()
        moved = (logits - base_logits).abs().max().item()
        assert moved > 1e-2, f"{method}: the adapter moved logits by only {moved}"
        out = ROOT / f"bart_{method}"
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        model.save_adapter(str(out / "adapter"), "a", use_safetensors=True)
        # AdapterHub also writes the model's LM head as a "head"; it is part of the base here (tied to shared.weight).
        (out / "adapter" / "head_config.json").unlink(missing_ok=True)
        (out / "adapter" / "model_head.safetensors").unlink(missing_ok=True)
        save_file({"logits": logits.contiguous()}, out / "expected.safetensors")
        outs = generate(model, inputs, _ids)
        meta = dict(config=cfg.to_dict(), moved=moved, ids=_ids, generation=GEN, variants=VARIANTS, outputs={k: v.tolist() for k, v in outs.items()})
        (out / "meta.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
        print(method, "moved", moved)


def main() -> None:
    write_base("marian")
    write_base("mbart")
    _model, _ids, inputs, logits = write_base("bart")
    write_adapters(logits, inputs)


if __name__ == "__main__":
    main()
