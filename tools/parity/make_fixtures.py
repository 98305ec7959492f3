#!/usr/bin/env python3
"""Builds the parity fixtures: reference outputs of AdapterHub's `adapters` for a tiny random BERT.

Run from the repository root inside a virtual environment made from tools/parity/requirements.txt:

    python3 -m venv /tmp/parity-venv
    /tmp/parity-venv/bin/pip install -r tools/parity/requirements.txt
    /tmp/parity-venv/bin/python tools/parity/make_fixtures.py

Writes tools/parity/fixtures/:
    base/config.json, base/model.safetensors   the tiny BERT (random weights, seed 0), shared by every method
    inputs.safetensors                         input_ids + attention_mask (int64, row 1 padded), shared
    <method>/adapter/...                       the adapter exactly as `model.save_adapter(..., use_safetensors=True)` wrote it
    <method>/expected.safetensors              last_hidden_state (and logits when a head is used), float32
    <method>/meta.json                         how the reference was computed (adapter names, active setup, ...)
    VERSIONS.md                                library versions and the command

Every adapter tensor is re-drawn after `add_adapter` with non-trivial random values (zero-initialised
up-projections included), so an adapter that acts as the identity cannot pass the TypeScript tests.
Nothing here is needed by CI: the fixtures are committed and the TypeScript tests only read them.
"""

from __future__ import annotations

import json
import platform
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertModel

import adapters
from adapters import BertAdapterModel
from adapters.composition import Fuse, Stack

ROOT = Path(__file__).resolve().parent / "fixtures"
SEED = 0

CONFIG = dict(
    vocab_size=100,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    max_position_embeddings=64,
    type_vocab_size=2,
    hidden_act="gelu",
    layer_norm_eps=1e-12,
)

# Batch of 2, length 9; row 1 has 3 padding positions.
INPUT_IDS = [[2, 17, 45, 9, 88, 31, 60, 12, 3], [2, 71, 5, 38, 94, 3, 0, 0, 0]]
ATTENTION_MASK = [[1] * 9, [1] * 6 + [0] * 3]


def redraw(tensor: torch.Tensor, name: str, gen: torch.Generator) -> None:
    """Non-trivial values: LayerNorm-like weights around 1, everything else N(0, 0.3²) (biases N(0, 0.1²))."""
    with torch.no_grad():
        noise = torch.randn(tensor.shape, generator=gen, dtype=torch.float32)
        leaf = name.rsplit(".", 1)[-1]
        if leaf == "weight" and tensor.dim() == 1 and "norm" in name.lower():
            tensor.copy_(1.0 + 0.2 * noise)
        elif leaf == "bias":
            tensor.copy_(0.1 * noise)
        elif leaf == "scaling":
            tensor.copy_(1.5 + 0.5 * noise)
        else:
            tensor.copy_(0.3 * noise)


def base_model() -> BertModel:
    torch.manual_seed(SEED)
    model = BertModel(BertConfig(**CONFIG))
    gen = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if "LayerNorm.weight" in name:
                p.copy_(1.0 + 0.1 * noise)
            elif name.endswith("bias") or "LayerNorm.bias" in name:
                p.copy_(0.05 * noise)
            elif "embeddings" in name:
                p.copy_(0.5 * noise)
            else:
                p.copy_(0.15 * noise)
    return model.eval()


def adapter_model(base: BertModel) -> BertAdapterModel:
    # A fresh copy of the config: AdapterHub records adapters and heads in the model config it is given.
    model = BertAdapterModel(BertConfig(**CONFIG))
    missing, unexpected = model.bert.load_state_dict(base.state_dict(), strict=False)
    # BertAdapterModel's BertModel is the same architecture; only adapter bookkeeping may differ.
    assert not unexpected, unexpected
    assert not [k for k in missing if "adapter" not in k and not k.startswith("prompt_tuning.")], missing
    return model


def redraw_matching(model: torch.nn.Module, needles: list[str], seed: int) -> list[str]:
    gen = torch.Generator().manual_seed(seed)
    touched = []
    for name, p in model.named_parameters():
        if any(n in name for n in needles):
            redraw(p.data, name, gen)
            touched.append(name)
    assert touched, f"no parameter matched {needles}"
    return touched


def run(model: BertAdapterModel, head: str | None) -> dict[str, torch.Tensor]:
    ids = torch.tensor(INPUT_IDS)
    mask = torch.tensor(ATTENTION_MASK)
    model.eval()
    with torch.no_grad():
        if head is None:
            out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
            hidden = out.hidden_states[-1] if getattr(out, "hidden_states", None) is not None else out[0]
            return {"last_hidden_state": hidden.float().contiguous()}
        out = model(input_ids=ids, attention_mask=mask, head=head, output_hidden_states=True)
        return {"last_hidden_state": out.hidden_states[-1].float().contiguous(), "logits": out.logits.float().contiguous()}


def write_expected(dir_: Path, outputs: dict[str, torch.Tensor], meta: dict) -> None:
    save_file(outputs, str(dir_ / "expected.safetensors"), metadata={"format": "pt"})
    (dir_ / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def fresh(method: str) -> Path:
    d = ROOT / method
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    return d


def single(base: BertModel, method: str, config, seed: int, *, head: dict | None = None, tagging: bool = False, skip_layers=None, note: str = "") -> None:
    """One adapter named `method`-ish: add, re-draw, activate, run, save (with a classification head, or a tagging head)."""
    d = fresh(method)
    name = "a"
    model = adapter_model(base)
    model.add_adapter(name, config=config)
    redraw_matching(model, [f".adapters.{name}.", f"invertible_adapters.{name}.", f"shared_parameters.{name}."], seed)
    head_name = None
    if head is not None:
        head_name = name  # save_adapter(with_head=True) saves the head named like the adapter
        (model.add_tagging_head if tagging else model.add_classification_head)(head_name, **head)
        redraw_matching(model, [f"heads.{head_name}."], seed + 1000)
    model.set_active_adapters(name, skip_layers=skip_layers)
    if head_name:
        model.active_head = head_name
    outputs = run(model, head_name)
    # The adapter must change the output, or an identity adapter could pass.
    model.set_active_adapters(None)
    plain = run(model, head_name)["last_hidden_state"]
    delta = (plain - outputs["last_hidden_state"]).abs().max().item()
    assert delta > 1e-2, f"{method}: adapter barely changes the output ({delta})"
    model.set_active_adapters(name, skip_layers=skip_layers)
    model.save_adapter(str(d / "adapter"), name, use_safetensors=True)
    meta = {"adapters": [name], "active": name, "skip_layers": skip_layers, "head": head_name, "max_abs_change_vs_base": delta, "note": note}
    write_expected(d, outputs, meta)


def assert_changes(method: str, model: BertAdapterModel, outputs: dict[str, torch.Tensor]) -> None:
    """The active setup must change the output (then re-activate it: callers set it before)."""
    active = model.active_adapters
    model.set_active_adapters(None)
    delta = (run(model, None)["last_hidden_state"] - outputs["last_hidden_state"]).abs().max().item()
    model.set_active_adapters(active)
    assert delta > 1e-2, f"{method}: the adapters barely change the output ({delta})"


def fusion(base: BertModel, seed: int) -> None:
    d = fresh("fuse")
    model = adapter_model(base)
    for i, name in enumerate(["a", "b"]):
        model.add_adapter(name, config="seq_bn")
    model.add_adapter_fusion(Fuse("a", "b"), "dynamic")
    redraw_matching(model, [".adapters.a.", ".adapters.b.", "adapter_fusion_layer"], seed)
    model.set_active_adapters(Fuse("a", "b"))
    outputs = run(model, None)
    assert_changes("fuse", model, outputs)
    for name in ["a", "b"]:
        model.save_adapter(str(d / name), name, use_safetensors=True)
    model.save_adapter_fusion(str(d / "fusion"), "a,b", use_safetensors=True)
    write_expected(d, outputs, {"adapters": ["a", "b"], "active": "Fuse(a, b)", "fusion_config": "dynamic", "head": None})


def stack(base: BertModel, seed: int) -> None:
    d = fresh("stack")
    model = adapter_model(base)
    model.add_adapter("lang", config="seq_bn")
    model.add_adapter("task", config="seq_bn")
    redraw_matching(model, [".adapters.lang.", ".adapters.task."], seed)
    model.set_active_adapters(Stack("lang", "task"))
    outputs = run(model, None)
    assert_changes("stack", model, outputs)
    for name in ["lang", "task"]:
        model.save_adapter(str(d / name), name, use_safetensors=True)
    write_expected(d, outputs, {"adapters": ["lang", "task"], "active": "Stack(lang, task)", "head": None})


def peft_lora(base: BertModel, method: str, seed: int, **config) -> None:
    """PEFT LoRA on the bare BertModel, saved with PEFT's own save_pretrained (adapter_config.json + adapter_model.safetensors)."""
    import copy

    from peft import LoraConfig, get_peft_model

    d = fresh(method)
    model = get_peft_model(copy.deepcopy(base), LoraConfig(**config))
    touched = redraw_matching(model, [".lora_A.", ".lora_B."], seed)
    ids = torch.tensor(INPUT_IDS)
    mask = torch.tensor(ATTENTION_MASK)
    model.eval()
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask)
        with model.disable_adapter():
            plain = model(input_ids=ids, attention_mask=mask)
    delta = (plain.last_hidden_state - out.last_hidden_state).abs().max().item()
    assert delta > 1e-2, f"{method}: LoRA barely changes the output ({delta})"
    model.save_pretrained(str(d / "adapter"), safe_serialization=True)
    # save_pretrained also writes a model-card template (README.md); only the config and the weights are the format.
    (d / "adapter" / "README.md").unlink(missing_ok=True)
    outputs = {"last_hidden_state": out.last_hidden_state.float().contiguous(), "pooler_output": out.pooler_output.float().contiguous()}
    meta = {"peft_config": {k: (sorted(v) if isinstance(v, set) else v) for k, v in config.items()}, "lora_modules": len(touched) // 2, "max_abs_change_vs_base": delta}
    write_expected(d, outputs, meta)


def lora_methods(base: BertModel) -> None:
    """LoRA and (IA)³ with AdapterHub (LoRAConfig / IA3Config) and LoRA with PEFT."""
    from adapters import IA3Config, LoRAConfig

    # AdapterHub keeps these tensors under `...loras.a.` (lora_A, lora_B, gate.weight, gate.bias): re-draw them all.
    def hub(method: str, config, seed: int, note: str) -> None:
        d = fresh(method)
        model = adapter_model(base)
        model.add_adapter("a", config=config)
        redraw_matching(model, [".loras.a."], seed)
        model.set_active_adapters("a")
        outputs = run(model, None)
        assert_changes(method, model, outputs)
        model.save_adapter(str(d / "adapter"), "a", use_safetensors=True)
        write_expected(d, outputs, {"adapters": ["a"], "active": "a", "head": None, "note": note})

    hub("lora", LoRAConfig(), 13, "LoRAConfig() defaults: r 8, alpha 8, q and v")
    hub("lora_gated", LoRAConfig(r=4, alpha=16, dropout=0.1, attn_matrices=["q", "k", "v"], intermediate_lora=True, output_lora=True, use_gating=True), 14,
        "q, k, v, intermediate and output with gating (the gate replaces alpha/r); dropout inactive in eval")
    hub("ia3", IA3Config(), 15, "IA3Config() defaults: scale k, v and intermediate; the vectors re-drawn N(0, 0.3^2)")
    peft_lora(base, "peft_lora_qv", 16, r=4, lora_alpha=8, lora_dropout=0.1, target_modules=["query", "value"])
    peft_lora(base, "peft_lora_all", 17, r=2, lora_alpha=6, target_modules=["query", "key", "value", "dense"])
    peft_lora(base, "peft_lora_regex", 18, r=3, lora_alpha=5, use_rslora=True, target_modules=r".*\.layer\.1\..*\.(query|value|dense)")


def prefix_methods(base: BertModel) -> None:
    """Prefix tuning (PrefixTuningConfig), reparameterised by the MLP and flat; the pool's tensors re-drawn."""
    from adapters import PrefixTuningConfig

    def hub(method: str, config, seed: int, note: str) -> None:
        d = fresh(method)
        model = adapter_model(base)
        model.add_adapter("a", config=config)
        redraw_matching(model, [".prefix_tunings.a."], seed)
        model.set_active_adapters("a")
        outputs = run(model, None)
        assert_changes(method, model, outputs)
        # adapters 1.3.0 cannot save prefix tuning as safetensors (the pool is shared by every layer's module): save the
        # pickle for adapter_config.json and its key names, and write the pool once as safetensors under those names.
        model.save_adapter(str(d / "adapter"), "a", use_safetensors=False)
        saved = torch.load(str(d / "adapter" / "pytorch_adapter.bin"), weights_only=True)
        (d / "adapter" / "pytorch_adapter.bin").unlink()
        pool = {k: v.contiguous() for k, v in saved.items() if k.startswith("bert.prefix_tuning.")}
        assert pool and all(".layer." not in k for k in pool), sorted(saved)
        save_file(pool, str(d / "adapter" / "prefix_pool.safetensors"), metadata={"format": "pt"})
        write_expected(d, outputs, {"adapters": ["a"], "active": "a", "head": None, "note": note, "saved_keys": sorted(saved)})

    hub("prefix_tuning", PrefixTuningConfig(prefix_length=5, bottleneck_size=16), 19, "MLP reparameterisation (tanh), prefix 5, bottleneck 16")
    hub("prefix_tuning_flat", PrefixTuningConfig(prefix_length=4, flat=True, leave_out=[0]), 20, "flat prefix, prefix 4, leave_out [0]")


def union_methods(base: BertModel) -> None:
    """ConfigUnion presets: MAMConfig and UniPELTConfig (every tensor of the union re-drawn), and the presets' dicts.

    The numeric fixtures shrink only the prefix MLP's bottleneck (800 / 512 → 24) to keep the files small; every other
    field is the preset's default. `presets.json` holds MAMConfig().to_dict() and UniPELTConfig().to_dict() unchanged,
    which our `mam` / `unipelt` presets must reproduce field for field.
    """
    from adapters import MAMConfig, PrefixTuningConfig, UniPELTConfig

    (ROOT / "presets").mkdir(exist_ok=True)
    presets = {"mam": MAMConfig().to_dict(), "unipelt": UniPELTConfig().to_dict()}
    (ROOT / "presets" / "presets.json").write_text(json.dumps(presets, indent=2, sort_keys=True) + "\n")

    def hub(method: str, config, seed: int, note: str) -> None:
        d = fresh(method)
        model = adapter_model(base)
        model.add_adapter("a", config=config)
        redraw_matching(model, [".prefix_tunings.a.", ".prefix_gates.a.", ".adapters.a.", ".loras.a."], seed)
        model.set_active_adapters("a")
        outputs = run(model, None)
        assert_changes(method, model, outputs)
        # As prefix_methods: adapters 1.3.0 cannot save a prefix pool as safetensors (every layer's module shares it).
        # Save the pickle, then write its tensors as adapter.safetensors without the per-layer copies of the pool
        # (`...attention.self.prefix_tuning.pool.prefix_tunings...`, the same tensors as `bert.prefix_tuning...`).
        model.save_adapter(str(d / "adapter"), "a", use_safetensors=False)
        saved = torch.load(str(d / "adapter" / "pytorch_adapter.bin"), weights_only=True)
        (d / "adapter" / "pytorch_adapter.bin").unlink()
        weights = {k: v.contiguous() for k, v in saved.items() if ".prefix_tuning.pool." not in k}
        save_file(weights, str(d / "adapter" / "adapter.safetensors"), metadata={"format": "pt"})
        params = sum(p.numel() for n, p in model.named_parameters() if any(x in n for x in [".prefix_tunings.a.", ".prefix_gates.a.", ".adapters.a.", ".loras.a."]))
        # Each shared pool parameter is listed once by named_parameters (torch de-duplicates shared modules).
        write_expected(d, outputs, {"adapters": ["a"], "active": "a", "head": None, "note": note, "saved_keys": sorted(saved), "parameters": params})

    hub("mam", MAMConfig(prefix_tuning=PrefixTuningConfig(bottleneck_size=24)), 21,
        "MAMConfig: PrefixTuningConfig(bottleneck_size=24; the preset's 800 shrunk for file size) + ParBnConfig() (rf 2, scaling 4.0, mam_adapter init)")
    hub("unipelt", UniPELTConfig(prefix_tuning=PrefixTuningConfig(prefix_length=10, bottleneck_size=24)), 22,
        "UniPELTConfig: gated PrefixTuningConfig(prefix_length=10, bottleneck_size=24; the preset's 512 shrunk), gated SeqBnConfig(rf 16), gated LoRAConfig(r=8, alpha=2)")


def union_composition(base: BertModel) -> None:
    """ConfigUnion as a child of composition blocks: each method's layer composes the setup restricted to its modules.

    - `union_stack`: Stack(a, b), a = MAMConfig (prefix MLP bottleneck 24) and b = LoRAConfig(r=4): the prefix layer runs
      a's prefix, the bottleneck layer a's parallel adapter, the LoRA layers b, each alone. (Stack(MAM, ParBnConfig) is
      left out: BottleneckLayer.compose_stack calls pre_block before every child, and ParallelAdapter.pre_forward
      restarts from the layer input, so adapters 1.3.0 keeps only the last parallel adapter of a Stack.)
    - `union_batchsplit`: BatchSplit(a, b, batch_sizes=[1, 1]), a and b each ConfigUnion(LoRAConfig(r=4),
      ParBnConfig(rf 4)): the LoRA layers and the bottleneck layers each split the batch between a's and b's module.
      (adapters 1.3.0 fails when a BatchSplit child has no module in a LoRA layer: LoRALayer.pad_and_concat gets
      None for that child's slice, so both children hold a LoRA here.)
    """
    from adapters import ConfigUnion, LoRAConfig, MAMConfig, ParBnConfig, PrefixTuningConfig
    from adapters.composition import BatchSplit

    def save_union(model: BertAdapterModel, name: str, path: Path) -> list[str]:
        # As union_methods: the pickle's tensors as adapter.safetensors without the per-layer copies of a prefix pool.
        model.save_adapter(str(path), name, use_safetensors=False)
        saved = torch.load(str(path / "pytorch_adapter.bin"), weights_only=True)
        (path / "pytorch_adapter.bin").unlink()
        save_file({k: v.contiguous() for k, v in saved.items() if ".prefix_tuning.pool." not in k}, str(path / "adapter.safetensors"), metadata={"format": "pt"})
        return sorted(saved)

    def hub(method: str, union, other, setup, seed: int, note: str) -> None:
        d = fresh(method)
        model = adapter_model(base)
        model.add_adapter("a", config=union)
        model.add_adapter("b", config=other)
        redraw_matching(model, [f"{x}.{n}." for x in [".prefix_tunings", ".adapters", ".loras"] for n in ["a", "b"]], seed)
        model.set_active_adapters(setup)
        outputs = run(model, None)
        assert_changes(method, model, outputs)
        keys = save_union(model, "a", d / "a")
        if isinstance(other, ConfigUnion):
            save_union(model, "b", d / "b")
        else:
            model.save_adapter(str(d / "b"), "b", use_safetensors=True)
        write_expected(d, outputs, {"adapters": ["a", "b"], "active": str(setup), "head": None, "note": note, "saved_keys": keys})

    hub("union_stack", MAMConfig(prefix_tuning=PrefixTuningConfig(bottleneck_size=24)), LoRAConfig(r=4), Stack("a", "b"), 23,
        "Stack(a, b): a = MAMConfig (prefix MLP bottleneck 24), b = LoRAConfig(r=4)")
    pair = ConfigUnion(LoRAConfig(r=4), ParBnConfig(reduction_factor=4))
    hub("union_batchsplit", pair, pair, BatchSplit("a", "b", batch_sizes=[1, 1]), 24,
        "BatchSplit(a, b, batch_sizes=[1, 1]): a, b = ConfigUnion(LoRAConfig(r=4), ParBnConfig(rf 4))")


def main() -> None:
    torch.set_num_threads(1)
    ROOT.mkdir(parents=True, exist_ok=True)
    base = base_model()
    if (ROOT / "base").exists():
        shutil.rmtree(ROOT / "base")
    base.save_pretrained(str(ROOT / "base"), safe_serialization=True)
    save_file({"input_ids": torch.tensor(INPUT_IDS), "attention_mask": torch.tensor(ATTENTION_MASK)}, str(ROOT / "inputs.safetensors"), metadata={"format": "pt"})

    from adapters import CompacterConfig, CompacterPlusPlusConfig, DoubleSeqBnConfig, ParBnConfig, SeqBnConfig, SeqBnInvConfig

    single(base, "seq_bn", SeqBnConfig(reduction_factor=4), 1, head=dict(num_labels=3, layers=1, use_pooler=True))
    single(base, "seq_bn_ln", SeqBnConfig(reduction_factor=4, ln_after=True, scaling="channel"), 12,
           note="ln_after + channel scaling (ln_before is left out: adapters 1.3.0 cannot save it with use_safetensors=True, the LayerNorm is shared by adapter_norm_before and adapter_down.0)")
    # AdapterHub's default classification head (layers 2: dense + tanh + out_proj on [CLS]) and a tagging head.
    single(base, "head_cls2", SeqBnConfig(reduction_factor=4), 13, head=dict(num_labels=3, id2label={0: "neg", 1: "neu", 2: "pos"}),
           note="add_classification_head defaults: layers 2, activation tanh, use_pooler False")
    single(base, "head_tagging", SeqBnConfig(reduction_factor=4), 14, head=dict(num_labels=5, layers=2, activation_function="relu"), tagging=True,
           note="add_tagging_head with layers 2 and relu (logits per token)")
    single(base, "double_seq_bn", DoubleSeqBnConfig(reduction_factor=4), 2)
    single(base, "par_bn", ParBnConfig(reduction_factor=4), 3)
    single(base, "scaled_par_bn", ParBnConfig(reduction_factor=4, scaling="learned"), 4)
    single(base, "leave_out", SeqBnConfig(reduction_factor=4, leave_out=[0]), 5)
    single(base, "skip_layers", SeqBnConfig(reduction_factor=4), 6, skip_layers=[0],
           note="AdapterDrop: model.set_active_adapters(name, skip_layers=[0]) (ModelAdaptersConfig.skip_layers); the adapter file has both layers")
    single(base, "compacter", CompacterConfig(reduction_factor=4, phm_dim=4), 7)
    single(base, "compacter++", CompacterPlusPlusConfig(reduction_factor=4, phm_dim=4), 8)
    single(base, "seq_bn_inv", SeqBnInvConfig(reduction_factor=4), 9)
    fusion(base, 10)
    stack(base, 11)
    lora_methods(base)
    prefix_methods(base)
    union_methods(base)
    union_composition(base)

    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
        "adapters": adapters.__version__,
        "peft": __import__("peft").__version__,
        "safetensors": __import__("safetensors").__version__,
    }
    lines = [
        "# Versions the fixtures were generated with",
        "",
        "| package | version |",
        "| --- | --- |",
        *[f"| {k} | {v} |" for k, v in versions.items()],
        "",
        "Command (from the repository root):",
        "",
        "```sh",
        "python3 -m venv /tmp/parity-venv",
        "/tmp/parity-venv/bin/pip install -r tools/parity/requirements.txt",
        "/tmp/parity-venv/bin/python tools/parity/make_fixtures.py",
        "```",
        "",
        f"Seed {SEED}; torch threads 1; CPU, float32 (torch is PyPI's default CUDA build, run on the CPU).",
        "Re-running the command reproduces every fixture byte for byte.",
        "",
    ]
    (ROOT / "VERSIONS.md").write_text("\n".join(lines))
    print(json.dumps(versions))


if __name__ == "__main__":
    sys.exit(main())
