// The CLI's runtime comes from the package descriptors of the plugin packages it discovers, not from what importing
// them registers: a block, an op and a head a package declares are in the runtime (and not process-wide); a package
// without a descriptor gets one of its plugins; a conflicting package is left out with its reason.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import type { TensorType } from '@adapters/core-graph';
import { compositionRegistry, createRuntime, defaultRuntime, defineOp, definePackage } from '@adapters/core-graph';
import { toyAdapter } from '@adapters/core-graph/testing';
import { discoverPlugins, runtimeOf } from './plugins';

const echoOp = (k: number) => defineOp({ name: 'test.echo', arity: 1, inferType: (a) => a.inputs[0] as TensorType, run: ([x]) => tf.mul(x as tf.Tensor, k) });
const echoBlock = { ...createRuntime().blocks.get('Stack'), type: 'Echo', ops: [echoOp(1)] };

describe('the CLI runtime', () => {
  test('in this monorepo: fusion’s block and ops, kadapter’s heads and bottleneck’s lowering come from their descriptors', () => {
    const packages = discoverPlugins([path.resolve(__dirname, '..', '..')]);
    const { runtime, skipped } = runtimeOf(packages);
    expect(skipped).toEqual([]);
    expect(runtime.packages).toEqual(expect.arrayContaining(['@adapters/adapter-fusion', '@adapters/adapter-kadapter', '@adapters/adapter-bottleneck']));
    expect([runtime.blocks.has('Fuse'), runtime.ops.has('fusionMix'), runtime.heads.has('relation'), runtime.plugins.has('bottleneck')]).toEqual([true, true, true, true]);
    expect(runtime.lowerings.map((l) => l.name)).toContain('adapter-bottleneck/sequential');
    // Loading the packages registered none of it in the default runtime.
    expect([compositionRegistry.has('Fuse'), defaultRuntime.ops.has('fusionMix'), defaultRuntime.heads.has('relation')]).toEqual([false, false, false]);
  }, 60_000);

  test('descriptors of discovered packages, a descriptor made for plain plugins, and a conflicting package left out', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'adapters-cli-runtime-'));
    try {
      const deps: Record<string, string> = {};
      for (const name of ['adapter-echo', 'adapter-plain', 'adapter-clash']) {
        const dir = path.join(root, 'node_modules', '@adapters', name);
        mkdirSync(dir, { recursive: true });
        writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `@adapters/${name}`, version: '1.0.0', main: 'index.js' }));
        writeFileSync(path.join(dir, 'index.js'), '');
        deps[`@adapters/${name}`] = '*';
      }
      writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'project', private: true, dependencies: deps }));
      const exportsOf: Record<string, unknown> = {
        'adapter-echo': { echoPackage: definePackage({ name: '@adapters/adapter-echo', blocks: [echoBlock] }) },
        'adapter-plain': { plugins: [toyAdapter] },
        'adapter-clash': { clashPackage: definePackage({ name: '@adapters/adapter-clash', ops: [echoOp(2)] }) },
      };
      const load = (file: string): unknown => exportsOf[path.basename(path.dirname(file))];
      const packages = discoverPlugins([root], load);
      expect(packages.map((p) => [p.name, p.descriptors?.map((d) => d.name)])).toEqual([
        ['@adapters/adapter-clash', ['@adapters/adapter-clash']],
        ['@adapters/adapter-echo', ['@adapters/adapter-echo']],
        ['@adapters/adapter-plain', ['@adapters/adapter-plain']],
      ]);
      const { runtime, skipped } = runtimeOf(packages);
      // First package first: clash's op is in, echo's block (whose op clashes) is left out.
      expect(skipped.map((s) => s.name)).toEqual(['@adapters/adapter-echo']);
      expect(skipped[0]?.reason).toMatch(/op 'test.echo' is also contributed by '@adapters\/adapter-clash'/);
      expect([runtime.blocks.has('Echo'), runtime.ops.has('test.echo'), runtime.plugins.has('toy')]).toEqual([false, true, true]);
      const without = runtimeOf(packages.filter((p) => p.name !== '@adapters/adapter-clash')).runtime;
      expect([without.blocks.has('Echo'), without.ops.get('test.echo')]).toEqual([true, echoBlock.ops[0]]);
      expect(compositionRegistry.has('Echo')).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
