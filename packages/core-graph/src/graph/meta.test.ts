// GraphMetaRegister: a plugin's graph.meta keys are typed by interface augmentation (checked by the compiler:
// this file is type-checked with the package), and core's own keys are typed without casts.
import { buildEncoder } from '../model/encoder';
import { addHead } from '../model/heads';
import { GraphBuilder } from './builder';

interface TestCatalog {
  readonly count: number;
}

declare module './meta' {
  interface GraphMetaRegister {
    readonly testPluginCatalog?: TestCatalog;
  }
}

describe('GraphMetaRegister', () => {
  it('types a registered plugin key on setMeta/getMeta and graph.meta, and core keys without casts', () => {
    const b = GraphBuilder.from(addHead(buildEncoder({ vocabSize: 20, hiddenSize: 8, numLayers: 1, numHeads: 2, intermediateSize: 16, maxPositions: 8 }), { type: 'classification', name: 'cls', numLabels: 2 }));
    // @ts-expect-error a registered key takes only its declared type
    b.setMeta('testPluginCatalog', 'three');
    b.setMeta('testPluginCatalog', { count: 3 });
    const count: number | undefined = b.getMeta('testPluginCatalog')?.count;
    const g = b.build();
    const fromGraph: number | undefined = g.meta.testPluginCatalog?.count;
    const hidden: number | undefined = g.meta.config?.hiddenSize;
    const heads: readonly string[] = (g.meta.heads ?? []).map((h) => h.name);
    expect([count, fromGraph, hidden, heads]).toEqual([3, 3, 8, ['cls']]);
  });
});
