#!/usr/bin/env node
// Writes RTE, MRPC, SST-2 and CoLA from the shared GLUE folders (formats: ../shared/datasets/README.md) as TSVs
// with one header (`text`, `pair` for sentence pairs, `label`), training sets subsampled (seeded) to --train N and
// dev sets to --dev N (default: whole).
//   node prepare-glue.js DATA_DIR OUT_DIR [--train N] [--dev N] [--seed S]
'use strict';
const fs = require('fs');
const path = require('path');

const [dataDir, outDir] = process.argv.slice(2);
if (!dataDir || !outDir) {
  process.stderr.write('usage: prepare-glue.js DATA_DIR OUT_DIR [--train N] [--seed S]\n');
  process.exit(2);
}
const opt = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const TRAIN = opt('train', 4000);
const DEV = opt('dev', Infinity);
const SEED = opt('seed', 1);

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function sample(rows, n, seed) {
  const out = [...rows];
  const r = rng(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out.slice(0, n);
}
const lines = (file) => fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '').split(/\r?\n/).filter((l) => l.trim() !== '');
const clean = (s) => s.replace(/\t/g, ' ').trim();

// Each reader returns rows [text, pair | undefined, label] from one GLUE file.
const TASKS = {
  rte: { folder: 'glue-rte', header: true, row: (f) => [f[1], f[2], f[3]] },
  mrpc: { folder: 'glue-mrpc', header: true, row: (f) => [f[3], f[4], f[0]] },
  sst2: { folder: 'glue-sst2', header: true, row: (f) => [f[0], undefined, f[1]] },
  cola: { folder: 'glue-cola', header: false, row: (f) => [f[3], undefined, f[1]] },
};

for (const [name, t] of Object.entries(TASKS)) {
  for (const split of ['train', 'dev']) {
    const all = lines(path.join(dataDir, t.folder, `${split}.tsv`)).slice(t.header ? 1 : 0).map((l) => t.row(l.split('\t')));
    const bad = all.findIndex((r) => r[0] === undefined || r[2] === undefined || r[2].trim() === '');
    if (bad >= 0) throw new Error(`${t.folder}/${split}.tsv: row ${bad + 1} does not have the expected columns`);
    const rows = split === 'train' ? sample(all, TRAIN, SEED) : DEV < all.length ? sample(all, DEV, SEED + 1) : all;
    const pair = rows[0][1] !== undefined;
    const text = [pair ? 'text\tpair\tlabel' : 'text\tlabel', ...rows.map((r) => (pair ? [r[0], r[1], r[2]] : [r[0], r[2]]).map(clean).join('\t'))].join('\n');
    fs.mkdirSync(path.join(outDir, name), { recursive: true });
    fs.writeFileSync(path.join(outDir, name, `${split}.tsv`), `${text}\n`);
    process.stdout.write(`${name}/${split}.tsv: ${rows.length} rows\n`);
  }
}
