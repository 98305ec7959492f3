#!/usr/bin/env python3
"""The other direction: AdapterHub's `load_adapter` reads the adapters our saveAdapter wrote and reproduces the references.

    PARITY_EXPORT_DIR=/tmp/ts-saved npx jest -c tools/jest.config.js tools/parity   # our saveAdapter writes /tmp/ts-saved/<method>
    /tmp/parity-venv/bin/python tools/parity/check_ts_saved.py /tmp/ts-saved

For every <method> folder there, loads the shared base model into BertAdapterModel, loads the adapter with AdapterHub,
runs the reference inputs and compares last_hidden_state with fixtures/<method>/expected.safetensors (and, when our
saveAdapter wrote a head there, loads it with_head=True and compares the head's logits too). Folders with a
ts_expected.safetensors (heads made in TypeScript, tools/parity/src/heads.test.ts) are compared with those outputs. Folders our
savePeftLora wrote (adapter_model.safetensors) load with PEFT's PeftModel.from_pretrained on the bare BertModel instead. Exits 1 on any
failure. Not run in CI (it needs the Python environment).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import BertConfig

from adapters import BertAdapterModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_fixtures as mf  # noqa: E402  (the same config and inputs)

TOLERANCE = 1e-5


def check_peft(method_dir: Path) -> float:
    """A PEFT LoRA folder our savePeftLora wrote: PeftModel.from_pretrained on the bare BertModel."""
    from peft import PeftModel
    from transformers import BertModel

    base = BertModel(BertConfig(**mf.CONFIG))
    base.load_state_dict(load_file(str(mf.ROOT / "base" / "model.safetensors")))
    model = PeftModel.from_pretrained(base, str(method_dir)).eval()
    with torch.no_grad():
        out = model(input_ids=torch.tensor(mf.INPUT_IDS), attention_mask=torch.tensor(mf.ATTENTION_MASK))
    want = load_file(str(mf.ROOT / method_dir.name / "expected.safetensors"))
    return max(((out[k] - want[k]).abs() / want[k].abs().clamp(min=1)).max().item() for k in ("last_hidden_state", "pooler_output"))


def check(method_dir: Path) -> float:
    method = method_dir.name
    if (method_dir / "adapter_model.safetensors").exists():
        return check_peft(method_dir)
    model = BertAdapterModel(BertConfig(**mf.CONFIG))
    model.bert.load_state_dict(load_file(str(mf.ROOT / "base" / "model.safetensors")), strict=False)
    # A head our saveHead wrote (head_config.json as AdapterHub writes it) loads with the adapter.
    with_head = (method_dir / "head_config.json").exists()
    name = model.load_adapter(str(method_dir), with_head=with_head, use_safetensors=True)
    # As the fixture: AdapterDrop of layer 0 for skip_layers (fixtures/skip_layers/meta.json).
    model.set_active_adapters(name, skip_layers=[0] if method == "skip_layers" else None)
    model.eval()
    kwargs = {"head": name} if with_head else {}
    with torch.no_grad():
        out = model(input_ids=torch.tensor(mf.INPUT_IDS), attention_mask=torch.tensor(mf.ATTENTION_MASK), output_hidden_states=True, **kwargs)
    # Folders made here (a head added with addHead) carry our own outputs; the others are AdapterHub's fixtures.
    own = method_dir / "ts_expected.safetensors"
    want = load_file(str(own if own.exists() else mf.ROOT / method / "expected.safetensors"))
    got = {"last_hidden_state": out.hidden_states[-1]}
    if with_head:
        got["logits"] = out.logits
        labels = model.heads[name].config.get("label2id")
        print(f"{method}: head '{name}' {model.heads[name].config['head_type']} layers {model.heads[name].config['layers']}, label2id {labels}")
    return max(((got[k] - want[k]).abs() / want[k].abs().clamp(min=1)).max().item() for k in got)


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/ts-saved")
    failed = 0
    for d in sorted(p for p in root.iterdir() if (p / "adapter_config.json").exists()):
        try:
            err = check(d)
            ok = err <= TOLERANCE
            print(f"{d.name}: max relative error {err:.2e} {'ok' if ok else 'FAILED'}")
            failed += not ok
        except Exception as e:  # report every method, then fail
            print(f"{d.name}: FAILED {type(e).__name__}: {e}")
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
