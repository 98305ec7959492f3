#!/usr/bin/env python3
"""Build the demo sentiment dataset in packages/cli/assets/sentiment/ (stdlib only).

Source: the `vaderSentiment` 3.3.2 sdist on PyPI (MIT, (c) 2016 C.J. Hutto). It ships
additional_resources/hutto_ICWSM_2014.tar.gz, whose movieReviewSnippets_GroundTruth.txt holds
10,605 movie-review sentences, each with the mean of >= 20 human ratings on [-4, 4].
We keep clearly polar sentences (|rating| >= 1), balance the classes, and split train/dev.
Re-running reproduces the committed files byte for byte.

  python3 scripts/build_sentiment_assets.py
"""
import hashlib
import io
import os
import random
import subprocess
import sys
import tarfile
import tempfile

SPEC = "vaderSentiment==3.3.2"
SDIST = "vaderSentiment-3.3.2.tar.gz"
SDIST_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
INNER = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
SNIPPETS = "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"
THRESHOLD = 1.0  # mean rating; between -1 and 1 raters saw little polarity
DEV_PER_CLASS = 500
SEED = 20140601
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "packages", "cli", "assets", "sentiment")


def fetch(tmp: str) -> bytes:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:", "--disable-pip-version-check", "-q", "-d", tmp, SPEC], check=True)
    with open(os.path.join(tmp, SDIST), "rb") as f:
        data = f.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SDIST_SHA256:
        sys.exit(f"{SDIST}: sha256 {digest} != {SDIST_SHA256}; the upstream file changed, check it before updating")
    return data


def read_member(tar: tarfile.TarFile, name: str) -> bytes:
    f = tar.extractfile(name)
    if f is None:
        sys.exit(f"{name} missing from archive")
    return f.read()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sdist = fetch(tmp)
    with tarfile.open(fileobj=io.BytesIO(sdist), mode="r:gz") as outer:
        licence = read_member(outer, "vaderSentiment-3.3.2/LICENSE.txt").decode("utf-8")
        inner = read_member(outer, INNER)
    with tarfile.open(fileobj=io.BytesIO(inner), mode="r:gz") as t:
        raw = read_member(t, SNIPPETS).decode("utf-8")

    rows, labels_of = [], {}
    for line in raw.splitlines():
        if not line.strip():
            continue
        sid, rating, text = line.split("\t")
        text = " ".join(text.split())  # one line, single spaces: safe in a plain TSV
        r = float(rating)
        label = "positive" if r >= THRESHOLD else "negative" if r <= -THRESHOLD else None
        labels_of.setdefault(text, set()).add(label)
        rows.append((text, label, rating, sid))
    # The source repeats some sentences: keep the first copy, and none if the copies disagree,
    # so that train and dev never share a sentence.
    pos, neg, kept = [], [], set()
    for text, label, rating, sid in rows:
        if label is None or text in kept or len(labels_of[text]) > 1:
            continue
        kept.add(text)
        (pos if label == "positive" else neg).append((text, label, rating, sid))

    rng = random.Random(SEED)
    n = min(len(pos), len(neg))
    rng.shuffle(pos)
    rng.shuffle(neg)
    pos, neg = pos[:n], neg[:n]
    dev = pos[:DEV_PER_CLASS] + neg[:DEV_PER_CLASS]
    train = pos[DEV_PER_CLASS:] + neg[DEV_PER_CLASS:]
    rng.shuffle(dev)
    rng.shuffle(train)

    os.makedirs(OUT, exist_ok=True)
    for name, rows in (("train.tsv", train), ("dev.tsv", dev)):
        with open(os.path.join(OUT, name), "w", encoding="utf-8", newline="\n") as f:
            f.write("sentence\tlabel\trating\tvader_id\n")
            for row in rows:
                f.write("\t".join(row) + "\n")
    with open(os.path.join(OUT, "LICENSE"), "w", encoding="utf-8", newline="\n") as f:
        f.write(licence.strip() + "\n")
    print(f"wrote {len(train)} train + {len(dev)} dev rows to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
