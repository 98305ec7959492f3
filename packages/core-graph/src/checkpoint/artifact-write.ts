// The one artifact writer (Node: files). Key mapping and reading are in artifact.ts, which runs in browsers too.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { GraphError } from '../errors';
import type { WeightStore } from '../exec/weights';
import type { Graph } from '../graph/graph';
import { writeFileAtomic } from '../io/atomic-write';
import { removeStaleTempFiles } from '../io/run-dir';
import { encodeSafetensors } from '../io/safetensors';
import type { Artifact, ModelHeader } from './artifact';
import { artifactJson, FORMAT_VERSION, modelHeader } from './artifact';
import { checkpointTensor } from './hf-keys';

/**
 * The one artifact writer: `configFile` = model header + `fields` + `version` (keys sorted), `weightsFile` = the
 * tensors (checkpoint layout, kernels [out, in]) under their checkpoint keys. Each file is written atomically.
 */
export async function writeArtifact(dir: string, graph: Graph, store: WeightStore, artifact: Artifact): Promise<void> {
  const header = modelHeader(graph);
  const keep = artifact.header ?? true;
  const headerFields = keep === false ? {} : Object.fromEntries(Object.entries(header).filter(([k]) => keep === true || keep[k as keyof ModelHeader] !== false));
  const out: Record<string, ReturnType<typeof checkpointTensor>> = {};
  for (const [key, names] of artifact.tensors) {
    const t = checkpointTensor(graph, store, key);
    for (const n of names) {
      if (n in out) throw new GraphError(`${artifact.weightsFile}: two parameters are saved under '${n}'`);
      out[n] = t;
    }
  }
  await mkdir(dir, { recursive: true });
  await removeStaleTempFiles(dir); // left by an earlier save that was killed
  const config: Record<string, unknown> = { ...headerFields, version: FORMAT_VERSION, ...artifact.fields };
  await writeFileAtomic(join(dir, artifact.configFile), artifactJson(config, config['config'] as object | undefined, artifact.floats, artifact.moreFloats));
  await writeFileAtomic(join(dir, artifact.weightsFile), encodeSafetensors(out, { format: 'pt' }));
}
