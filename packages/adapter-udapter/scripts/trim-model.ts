// Trims a Unigram model folder (multilingual-e5-small) to the pieces that the given CoNLL-U files use: every word
// form tokenised on its own (how udapter-train and MAD-X tagging encode words) and every sentence text (how MAD-X's
// masked-LM encodes text). The kept texts are segmented exactly as with the full vocabulary (see vocab-trim.ts), so
// parser and tagger results on these files are those of the full model, at a fraction of its memory.
// Usage: node -r ts-node/register scripts/trim-model.ts MODEL_NAME OUT_DIR FILE.conllu...  (MODEL_NAME: multilingual-e5-small)
import { corpusPieceIds, ensureModel, trimVocabulary } from '@adapters/cli';
import { readConllu } from '@adapters/core-graph';

async function main(): Promise<void> {
  const [model, outDir, ...files] = process.argv.slice(2);
  if (model === undefined || outDir === undefined || files.length === 0) throw new Error('usage: trim-model.ts MODEL OUT_DIR FILE.conllu...');
  const dir = await ensureModel(model, { log: (l) => process.stderr.write(`${l}\n`) });
  const texts: string[] = [];
  for (const f of files) {
    for (const s of await readConllu(f)) {
      if (s.text !== undefined) texts.push(s.text);
      for (const t of s.tokens) texts.push(t.form);
    }
  }
  const keep = await corpusPieceIds(dir, texts);
  const r = await trimVocabulary(dir, keep, outDir);
  process.stdout.write(`${r.dir}: ${r.originalIds.length} pieces kept (from ${texts.length} texts of ${files.length} files)\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
