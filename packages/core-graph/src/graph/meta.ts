// Typed graph metadata. Core's keys are declared here; a plugin declares its own by augmenting
// `GraphMetaRegister` (TanStack's Register pattern), so it reads `graph.meta` without casts:
//
//   declare module '@adapters/core-graph' {
//     interface GraphMetaRegister { fusions?: FusionCatalog }
//   }
import type { EncoderConfig } from '../model/config';
import type { AnyHeadSpec } from '../model/heads';
import type { AdapterCatalog } from '../rewrite/apply-placements';

/** Empty here; plugins add their graph.meta keys (optional properties) by interface augmentation. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface GraphMetaRegister {}

/** The keys core writes. */
export interface CoreGraphMeta {
  /** Checkpoint key prefix (`bert`, `roberta`). */
  readonly prefix?: string;
  /** The encoder's architecture config. */
  readonly config?: EncoderConfig;
  /** The pretrained model's name, when it came from one. */
  readonly modelName?: string;
  /** Adapter name → plugin and resolved config (applyPlacements). */
  readonly adapters?: AdapterCatalog;
  /** The heads added with addHead, in order. */
  readonly heads?: readonly AnyHeadSpec[];
  /** Branch count of the graph's Parallel blocks (one per graph; rewrite/blocks.ts). */
  readonly parallelCopies?: number;
}

/** What `graph.meta` holds: core's keys, the registered plugin keys, and anything else as unknown. */
export type GraphMeta = CoreGraphMeta & GraphMetaRegister & { readonly [key: string]: unknown };
