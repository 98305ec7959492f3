// `npm run bench -- --peer`: PyTorch + AdapterHub (bench/peer/peer.py) on the same shapes in the same run, beside
// our own Pfeiffer measurement, and the ratios ours/theirs. The Python comes from ADAPTERS_PEER_PYTHON, else the
// parity venvs (/work/venv-parity, tools/parity's /tmp/parity-venv); without one that imports torch and adapters
// the section prints why and is skipped. Never in CI.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const PEER_PYTHON_ENV = 'ADAPTERS_PEER_PYTHON';
const CANDIDATES = ['/work/venv-parity/bin/python', '/tmp/parity-venv/bin/python'];

export interface PeerNumbers {
  readonly fullStep: number;
  readonly step: number;
  readonly baseInfer: number;
  readonly infer: number;
  readonly overheadPct: number;
}

/** A Python that imports torch, transformers and adapters, or why there is none. */
export function findPeerPython(env: NodeJS.ProcessEnv = process.env): { python: string } | { skip: string } {
  const given = env[PEER_PYTHON_ENV];
  const candidates = given ? [given] : CANDIDATES.filter((p) => existsSync(p));
  if (candidates.length === 0) {
    return { skip: `no Python with PyTorch + adapters: set ${PEER_PYTHON_ENV} or create the venv of tools/parity/README.md (looked for ${CANDIDATES.join(', ')})` };
  }
  const python = candidates[0]!;
  try {
    execFileSync(python, ['-c', 'import torch, transformers, adapters'], { stdio: ['ignore', 'ignore', 'pipe'] });
    return { python };
  } catch (e) {
    const why = String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).trim().split('\n').at(-1);
    return { skip: `${python} cannot import torch, transformers and adapters (${why})` };
  }
}

/** Runs peer.py at the given shapes; its JSON line. */
export function runPeer(python: string, batch: number, seq: number, reps: number, pairs: number): PeerNumbers & { peer: string } {
  const script = join(__dirname, '..', 'peer', 'peer.py');
  const out = execFileSync(python, [script, '--batch', String(batch), '--seq', String(seq), '--reps', String(reps), '--pairs', String(pairs)], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 << 20,
  });
  return JSON.parse(out.trim().split('\n').at(-1)!) as PeerNumbers & { peer: string };
}

/** Rows of the ours/theirs table: label, ours, theirs, ratio (a ratio below 1 means we are faster). */
export function peerRows(ours: PeerNumbers, theirs: PeerNumbers): [string, number, number, string][] {
  const r = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  return [
    ['train step, full fine-tuning (s)', ours.fullStep, theirs.fullStep, r(ours.fullStep, theirs.fullStep)],
    ['train step, Pfeiffer (s)', ours.step, theirs.step, r(ours.step, theirs.step)],
    ['inference, base (ms)', ours.baseInfer, theirs.baseInfer, r(ours.baseInfer, theirs.baseInfer)],
    ['inference, Pfeiffer (ms)', ours.infer, theirs.infer, r(ours.infer, theirs.infer)],
    ['Pfeiffer inference overhead (%)', ours.overheadPct, theirs.overheadPct, `${(ours.overheadPct - theirs.overheadPct).toFixed(1)} points`],
  ];
}
