import { Executor, loadPretrained, loadTokenizer, readSafetensorsFile } from '@adapters/core-graph';
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { dequantiseQ4, E5S1FormatError, fp16ToFp32, hfNameOf, readE5S1 } from './e5s1';
import { buildE5S1ModelDir } from './e5s1-model';
import { corpusPieceIds, trimVocabulary } from './vocab-trim';
import { HEADER, PIECES, syntheticTokenizerJson, writeSyntheticE5S1 } from './__tests__/e5s1-synthetic';

describe('E5S1 reader', () => {
  let root: string;
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'e5s1-'));
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('decodes fp16 scales, including subnormals and signs', () => {
    expect(fp16ToFp32(0x3c00)).toBe(1);
    expect(fp16ToFp32(0xc000)).toBe(-2);
    expect(fp16ToFp32(0x0001)).toBe(2 ** -24);
    expect(fp16ToFp32(0x7bff)).toBe(65504);
    expect(fp16ToFp32(0x7c00)).toBe(Infinity);
  });

  it('dequantises one block: low nibble → j, high nibble → j + 16', () => {
    const block = new Uint8Array(18);
    block[0] = 0x00;
    block[1] = 0x3c; // scale 1
    block[2] = 0xf0; // j=0: lo 0 → -8, hi 15 → +7 at j=16
    block[17] = 0x89; // j=15: lo 9 → 1, hi 8 → 0 at j=31
    const out = dequantiseQ4(block, 32);
    expect([out[0], out[16], out[15], out[31], out[1]]).toEqual([-8, 7, 1, 0, -8]);
  });

  it('reads a synthetic file exactly: header, pieces, scores and every tensor', () => {
    const { bytes, expected } = writeSyntheticE5S1(7);
    const m = readE5S1(bytes);
    expect(m.header).toEqual({ ...HEADER, layerNormEps: Math.fround(HEADER.layerNormEps) });
    expect(m.pieces).toEqual(PIECES.map(([p]) => p));
    expect(Array.from(m.scores)).toEqual(PIECES.map(([, s]) => Math.fround(s)));
    expect(m.special).toEqual({ bos: 0, eos: 2, pad: 1, unk: 3 });
    expect([...m.tensors.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [name, want] of expected) expect(m.tensors.get(name)?.values).toEqual(want);
  });

  it('names the fault in a bad file and never reads past its end', () => {
    const { bytes } = writeSyntheticE5S1(3);
    expect(() => readE5S1(bytes.slice(0, 30), 'x.bin')).toThrow(/x.bin: truncated while reading/);
    const wrongMagic = bytes.slice();
    wrongMagic[0] = 0x47;
    expect(() => readE5S1(wrongMagic, 'x.bin')).toThrow(E5S1FormatError);
    const hugeVocab = bytes.slice();
    new DataView(hugeVocab.buffer).setInt32(24, 1e9, true);
    expect(() => readE5S1(hugeVocab, 'x.bin')).toThrow(/vocab = 1000000000 is outside/);
    // Cut inside the tensor data: the directory's offsets now point past the end.
    expect(() => readE5S1(bytes.slice(0, bytes.length - 200), 'x.bin')).toThrow(/outside the file/);
  });

  it('maps every tensor to a Hugging Face BertModel key', () => {
    expect(hfNameOf('l3.fo.w')).toBe('encoder.layer.3.output.dense.weight');
    expect(hfNameOf('l0.aln.b')).toBe('encoder.layer.0.attention.output.LayerNorm.bias');
    expect(hfNameOf('emb.word')).toBe('embeddings.word_embeddings.weight');
    expect(() => hfNameOf('l0.zz.w')).toThrow(/no Hugging Face name/);
  });

  async function buildSynthetic(dir: string): Promise<string> {
    const { bytes } = writeSyntheticE5S1(11);
    await fs.writeFile(path.join(root, 'm.bin'), bytes);
    await fs.writeFile(path.join(root, 'tok.json'), JSON.stringify(syntheticTokenizerJson()));
    await buildE5S1ModelDir(path.join(root, 'm.bin'), path.join(root, 'tok.json'), dir);
    return dir;
  }

  it('builds a model folder the core loader accepts, with the dequantised weights in HF layout', async () => {
    const dir = await buildSynthetic(path.join(root, 'model'));
    const { tensors } = await readSafetensorsFile(path.join(dir, 'model.safetensors'));
    const { expected } = writeSyntheticE5S1(11);
    expect(tensors.get('encoder.layer.1.intermediate.dense.weight')?.values).toEqual(expected.get('l1.fi.w'));
    expect(tensors.get('encoder.layer.1.intermediate.dense.weight')?.shape).toEqual([HEADER.ffn, HEADER.hidden]);
    const pre = await loadPretrained(dir);
    expect(pre.config.vocabSize).toBe(HEADER.vocab);
    pre.store.dispose();
    const tok = await loadTokenizer(dir);
    expect(tok.encode('the cat').inputIds).toEqual([0, 5, 6, 2]);
    expect(tok.padId).toBe(1);
  });

  it('refuses a tokenizer.json whose pieces differ from the file', async () => {
    const { bytes } = writeSyntheticE5S1(11);
    await fs.writeFile(path.join(root, 'm.bin'), bytes);
    const tok = syntheticTokenizerJson();
    ((tok['model'] as { vocab: [string, number][] }).vocab[6] as [string, number])[0] = '▁kat';
    await fs.writeFile(path.join(root, 'tok.json'), JSON.stringify(tok));
    await expect(buildE5S1ModelDir(path.join(root, 'm.bin'), path.join(root, 'tok.json'), path.join(root, 'out'))).rejects.toThrow(/piece 6 is "▁kat"/);
    await expect(fs.stat(path.join(root, 'out', 'model.safetensors'))).rejects.toThrow();
  });

  it('vocabulary trimming keeps outputs identical for texts within the kept pieces', async () => {
    const dir = await buildSynthetic(path.join(root, 'model'));
    const corpus = ['the cat sat', 'the dog sat on the mat'];
    const keep = await corpusPieceIds(dir, corpus);
    const trimmed = await trimVocabulary(dir, keep, path.join(root, 'trimmed'));
    expect(trimmed.originalIds.length).toBeLessThan(PIECES.length);
    const texts = ['the cat sat on the mat', 'the dog sat'];
    const hidden = async (d: string): Promise<{ ids: number[][]; values: Float32Array }> => {
      const tok = await loadTokenizer(d);
      const enc = tok.encodeBatch(texts);
      const pre = await loadPretrained(d);
      const ids = tf.tensor2d(enc.inputIds, undefined, 'int32');
      const mask = tf.tensor2d(enc.attentionMask, undefined, 'float32');
      const types = tf.tensor2d(enc.tokenTypeIds, undefined, 'int32');
      const out = new Executor(pre.graph, pre.store).run({ input_ids: ids, attention_mask: mask, token_type_ids: types }, { outputs: ['last_hidden_state'] });
      const values = (out['last_hidden_state'] as tf.Tensor).dataSync() as Float32Array;
      tf.dispose([ids, mask, types, ...Object.values(out)]);
      pre.store.dispose();
      return { ids: enc.inputIds, values: Float32Array.from(values) };
    };
    const full = await hidden(dir);
    const small = await hidden(trimmed.dir);
    expect(small.ids.map((row) => row.map((i) => trimmed.originalIds[i]))).toEqual(full.ids);
    expect(small.values).toEqual(full.values); // same rows, same arithmetic: bit for bit
    // A text outside the kept pieces degrades to <unk> rather than failing.
    const tok = await loadTokenizer(trimmed.dir);
    expect(tok.encode('cod').inputIds).toContain(tok.unkId);
  });
});
