// The knowledge heads: relation head pools at the entity start markers, the dependency head scores every
// candidate head position with padded candidates masked, and heads read any [batch, seq, hidden] output.
import type { Graph, WeightStore } from '@adapters/core-graph';
import { ConfigError, MASKED_SCORE } from '@adapters/core-graph';
import { combineKnowledgeAdapters } from './combine';
import { addKnowledgeHead } from './heads';
import { baseStore, FEEDS, IDS, MASK, maxRelErr, randomizeOwner, runValues, SMALL, tinyBase, weight64, withKAdapter } from './__tests__/helpers';

const H = 16;

/** x [rows, in] · W + b, W in [in, out] layout. */
function affine(store: WeightStore, key: string, x: ArrayLike<number>, inDim: number, outDim: number): Float64Array {
  const w = weight64(store, `${key}.weight`);
  const b = weight64(store, `${key}.bias`);
  const rows = x.length / inDim;
  const y = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) for (let o = 0; o < outDim; o++) {
    let s = b[o] as number;
    for (let i = 0; i < inDim; i++) s += (x[r * inDim + i] as number) * (w[i * outDim + o] as number);
    y[r * outDim + o] = s;
  }
  return y;
}

function setup(): { graph: Graph; store: WeightStore } {
  let graph = withKAdapter(tinyBase(), 'fac', { ...SMALL, adapter_list: [0, 2] });
  graph = combineKnowledgeAdapters(graph, ['fac']);
  graph = addKnowledgeHead(graph, { type: 'relation', name: 'rc', numLabels: 3, subjectMarker: 7, objectMarker: 8 });
  graph = addKnowledgeHead(graph, { type: 'dependency', name: 'dep', input: 'fac.output', projectionSize: 6 });
  graph = addKnowledgeHead(graph, { type: 'classification', name: 'cls', numLabels: 2, pooling: 'mean' });
  graph = addKnowledgeHead(graph, { type: 'tokenClassification', name: 'tok', numLabels: 4, input: 'fac.chain' });
  const { store } = baseStore(graph);
  for (const owner of ['adapter:fac', 'combine:kadapter', 'head:rc', 'head:dep', 'head:cls', 'head:tok']) randomizeOwner(graph, store, owner, owner.length);
  return { graph, store };
}

describe('knowledge heads', () => {
  it('relation head: tanh(W[x_subj ; x_obj]) → classifier, x at the start markers (row 2 lacks the object: zeros)', () => {
    const { graph, store } = setup();
    const out = runValues(graph, store, FEEDS, { outputs: ['rc.logits', 'kadapter.combined'] });
    const x = out['kadapter.combined']?.values as Float32Array;
    const seq = (IDS[0] as number[]).length;
    const want: number[] = [];
    IDS.forEach((row, b) => {
      const at = (id: number) => {
        const s = row.indexOf(id);
        return s < 0 ? new Float64Array(H) : Float64Array.from(x.subarray((b * seq + s) * H, (b * seq + s + 1) * H));
      };
      const pair = new Float64Array(2 * H);
      pair.set(at(7), 0);
      pair.set(at(8), H);
      const hidden = affine(store, 'heads.rc.dense', pair, 2 * H, H).map(Math.tanh);
      want.push(...affine(store, 'heads.rc.out_proj', hidden, H, 3));
    });
    expect(out['rc.logits']?.shape).toEqual([2, 3]);
    expect(maxRelErr(out['rc.logits']?.values ?? [], want)).toBeLessThan(1e-5);
    store.dispose();
  });

  it('dependency head: s_ij = <W_d x_i, W_h x_j>/sqrt(k), padded candidates get -1e9', () => {
    const { graph, store } = setup();
    const out = runValues(graph, store, FEEDS, { outputs: ['dep.logits', 'fac.output', 'cls.logits', 'tok.logits'] });
    const seq = (IDS[0] as number[]).length;
    const x = out['fac.output']?.values as Float32Array;
    const dep = affine(store, 'heads.dep.dependent', x, H, 6);
    const head = affine(store, 'heads.dep.head', x, H, 6);
    const want = new Float64Array(2 * seq * seq);
    for (let b = 0; b < 2; b++) for (let i = 0; i < seq; i++) for (let j = 0; j < seq; j++) {
      let s = 0;
      for (let k = 0; k < 6; k++) s += (dep[(b * seq + i) * 6 + k] as number) * (head[(b * seq + j) * 6 + k] as number);
      want[(b * seq + i) * seq + j] = s / Math.sqrt(6) + ((MASK[b] as number[])[j] === 1 ? 0 : MASKED_SCORE);
    }
    expect(out['dep.logits']?.shape).toEqual([2, seq, seq]);
    const got = out['dep.logits']?.values as Float32Array;
    const real = [...want.keys()].filter((k) => (want[k] as number) > -1e8);
    expect(maxRelErr(real.map((k) => got[k] as number), real.map((k) => want[k] as number))).toBeLessThan(1e-5);
    expect([...want.keys()].filter((k) => (want[k] as number) < -1e8).every((k) => (got[k] as number) < -1e8)).toBe(true);
    expect(out['cls.logits']?.shape).toEqual([2, 2]);
    expect(out['tok.logits']?.shape).toEqual([2, seq, 4]);
    store.dispose();
  });

  it('heads own their parameters (head:NAME) and validate their spec', () => {
    const { graph, store } = setup();
    const owners = new Set([...graph.params.values()].map((p) => p.owner));
    for (const o of ['head:rc', 'head:dep', 'head:cls', 'head:tok', 'combine:kadapter', 'adapter:fac']) expect(owners.has(o)).toBe(true);
    expect(() => addKnowledgeHead(graph, { type: 'relation', name: 'rc', numLabels: 2, subjectMarker: 1, objectMarker: 2 })).toThrow(/already exists/);
    expect(() => addKnowledgeHead(graph, { type: 'classification', name: 'x', numLabels: 2, input: 'nope.combined' })).toThrow(ConfigError);
    expect(() => addKnowledgeHead(graph, { type: 'relation', name: 'y', numLabels: 2, subjectMarker: 1, objectMarker: 1 })).toThrow(/objectMarker: must differ/);
    expect(() => addKnowledgeHead(graph, { type: 'classification', name: 'z', numLabels: 0 })).toThrow(/numLabels/);
    expect(() => addKnowledgeHead(graph, { type: 'classification', name: 'w', numLabels: 2, input: 'pooler_output' })).toThrow(/must be \[batch, seq, hidden\]/);
    store.dispose();
  });
});
