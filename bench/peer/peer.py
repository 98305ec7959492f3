"""PyTorch + AdapterHub on the bench's shapes, for `npm run bench -- --peer` (bench/src/peer.ts).

Prints one JSON line: seconds per training step (full fine-tuning, Pfeiffer seq_bn at reduction factor 16, AdamW,
the second of two timed like the TS side), base and Pfeiffer inference in ms (median of paired runs, order drawn per
pair) and the Pfeiffer overhead as the median of the pair ratios. Random weights (timing only), MiniLM-sized BERT.
Never run in CI: it needs torch, transformers and adapters (tools/parity's requirements).
"""
import argparse
import json
import logging
import random
import statistics
import time

import torch
import adapters
from transformers import BertConfig, BertForSequenceClassification


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--pairs", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--hidden", type=int, default=384)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--intermediate", type=int, default=1536)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    # "adapters available but none are activated" on every base-model pass
    logging.getLogger("adapters").setLevel(logging.ERROR)
    logging.getLogger("transformers").setLevel(logging.ERROR)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=30522, hidden_size=a.hidden, num_hidden_layers=a.layers, num_attention_heads=a.heads,
                     intermediate_size=a.intermediate, max_position_embeddings=512, num_labels=2)
    # The same synthetic ids as bench/src/run.ts.
    ids = torch.tensor([[101] + [1000 + ((i * 7919 + j * 104729) % 28000) for j in range(a.seq - 2)] + [102]
                        for i in range(a.batch)])
    mask = torch.ones_like(ids)
    labels = torch.tensor([i % 2 for i in range(a.batch)])

    def step_seconds(model: torch.nn.Module) -> float:
        model.train()
        opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=1e-4, weight_decay=0.01)
        times = []
        for _ in range(a.reps):
            ends = []
            for _step in range(2):
                opt.zero_grad(set_to_none=True)
                out = model(input_ids=ids, attention_mask=mask, labels=labels)
                out.loss.backward()
                torch.nn.utils.clip_grad_norm_([q for q in model.parameters() if q.requires_grad], 1.0)
                opt.step()
                ends.append(time.perf_counter())
            times.append(ends[1] - ends[0])  # the second step, as the TS side times it
        return statistics.median(times)

    full = BertForSequenceClassification(cfg)
    full_step = step_seconds(full)

    model = BertForSequenceClassification(cfg)
    adapters.init(model)
    model.add_adapter("a", config="seq_bn")
    model.train_adapter("a")
    pfeiffer_step = step_seconds(model)

    model.eval()

    def infer_ms(active) -> float:
        model.set_active_adapters(active)
        with torch.inference_mode():
            t0 = time.perf_counter()
            model(input_ids=ids, attention_mask=mask)
            return (time.perf_counter() - t0) * 1000

    infer_ms(None)
    infer_ms("a")
    rng = random.Random(12345)
    base, adapted = [], []
    for _ in range(a.pairs):
        if rng.random() < 0.5:
            base.append(infer_ms(None))
            adapted.append(infer_ms("a"))
        else:
            adapted.append(infer_ms("a"))
            base.append(infer_ms(None))
    ratio = statistics.median(x / y for x, y in zip(adapted, base))
    print(json.dumps({
        "peer": f"PyTorch {torch.__version__} + adapters {adapters.__version__} ({a.threads} threads)",
        "fullStep": full_step, "step": pfeiffer_step, "baseInfer": statistics.median(base),
        "infer": statistics.median(adapted), "overheadPct": 100 * (ratio - 1),
    }))


if __name__ == "__main__":
    main()
