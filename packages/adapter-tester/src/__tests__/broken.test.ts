// The checks must catch broken plugins: each plugin below breaks one rule of the contract.
import * as tf from '@tensorflow/tfjs';
import type { AdapterPlugin, BuildContext, SpliceMode } from '@adapters/core-graph';
import { countPerSite, defineAdapter, defineOp, opRegistry } from '@adapters/core-graph';
import type { ToyAdapterConfig } from '@adapters/core-graph/testing';
import { toyAdapter, toyZeroAdapter } from '@adapters/core-graph/testing';
import type { AdapterSuiteOptions, TestApi } from '../index';
import {
  adapterChecks, checkConfigValidation, checkIdentityAtInit, checkParamCount, checkPlacementShapes, checkSaveLoadRoundTrip, checkTapBaseUntouched,
  checkTrainsOnlyOwnParams, normalize, runAdapterSuite,
} from '../index';

const variant = (name: string, patch: Partial<AdapterPlugin<ToyAdapterConfig>>): AdapterPlugin<ToyAdapterConfig> => defineAdapter<ToyAdapterConfig>({ ...toyAdapter, name, ...patch });
const ctxOf = (options: AdapterSuiteOptions) => normalize({ numRuns: 3, ...options });

/** The failure of a check, with fast-check's cause chain folded into one message. */
async function failure(check: Promise<void>): Promise<string> {
  try {
    await check;
  } catch (e) {
    const parts: string[] = [];
    // Not `instanceof Error`: node:assert's errors come from another realm than jest's globals.
    for (let x = e as { message?: unknown; cause?: unknown } | undefined; x && typeof x === 'object'; x = x.cause as typeof x) parts.push(String(x.message));
    return parts.join('\n');
  }
  throw new Error('the check passed on a broken plugin');
}

describe('the checks reject broken plugins', () => {
  it('paramCount that disagrees with the declared parameters', async () => {
    const plugin = variant('miscount', { paramCount: countPerSite((c, s) => 2 * s.outWidth * c.size + c.size + s.outWidth + 1) });
    expect(await failure(checkParamCount(ctxOf({ plugin }), 'after'))).toMatch(/paramCount says/);
  });

  it('a per-site count declared as shared (one count, however many sites)', async () => {
    const plugin = variant('shared-miscount', {
      paramCount: ({ config: c, width: d }) => ({ perSite: [], shared: 2 * d * c.size + c.size + d }),
    });
    expect(await failure(checkParamCount(ctxOf({ plugin }), 'after'))).toMatch(/per-site counts for \d+ sites/);
  });

  it('model-level parameters left out of paramCount', async () => {
    const plugin = variant('unshared', {
      build: (ctx: BuildContext<ToyAdapterConfig>) => {
        const r = toyAdapter.build(ctx);
        const gain = ctx.scope.sharedParam(`shared.adapters.${ctx.name}.gain`, { shape: [ctx.width], init: { kind: 'ones' }, kind: 'scalar' });
        return { ...r, output: ctx.scope.op('scaleByParam', 'gain', [r.output], { params: { scale: { ref: gain } } }) };
      },
    });
    expect(await failure(checkParamCount(ctxOf({ plugin }), 'after'))).toMatch(/paramCount says/);
  });

  it('isIdentityAtInit claimed by a randomly initialised adapter', async () => {
    const plugin = variant('liar', { isIdentityAtInit: () => true });
    expect(await failure(checkIdentityAtInit(ctxOf({ plugin }), 'after'))).toMatch(/differs from the base model/);
  });

  it('a schema that lets unknown fields through', async () => {
    const plugin = variant('open', { schema: { ...toyAdapter.schema, additionalProperties: true } });
    expect(await failure(checkConfigValidation(ctxOf({ plugin })))).toMatch(/__not_a_field__'.*was accepted/);
  });

  it('a schema whose field accepts any type', async () => {
    const plugin = variant('untyped', { schema: { type: 'object', properties: { size: { minimum: 1 }, zeroInit: {} }, additionalProperties: false } });
    expect(await failure(checkConfigValidation(ctxOf({ plugin })))).toMatch(/field 'zeroInit' accepts values of every JSON type/);
  });

  it('an invalid config the plugin accepts', async () => {
    expect(await failure(checkConfigValidation(ctxOf({ plugin: toyAdapter, invalidConfigs: [{ config: { size: 5 }, path: 'size' }] })))).toMatch(/was accepted/);
  });

  it('a parameter the adapter does not own (declared on the base)', async () => {
    const plugin = variant('rogue', {
      build: (ctx: BuildContext<ToyAdapterConfig>) => {
        const r = toyAdapter.build(ctx);
        const rogue = ctx.builder.scope(`${ctx.site.name}.rogue`, 'base', ctx.layer);
        return { ...r, output: rogue.dense('proj', r.output, ctx.width, { init: { kind: 'identity' }, biasInit: { kind: 'zeros' } }) };
      },
    });
    expect(await failure(checkTrainsOnlyOwnParams(ctxOf({ plugin }), 'after'))).toMatch(/owned by 'base', not by the adapter/);
  });

  it('an AdapterHub config that loses a field', async () => {
    const plugin = variant('lossy', { toHubConfig: (c) => ({ architecture: 'lossy', zeroInit: c.zeroInit }) });
    await expect(checkSaveLoadRoundTrip(ctxOf({ plugin, configs: [{ size: 2 }] }), 'after')).rejects.toThrow();
  });

  it('an op whose inferred shape disagrees with what it computes', async () => {
    opRegistry.register(defineOp({
      name: 'tester-bad-shape',
      arity: 1,
      inferType: ({ inputs }) => inputs[0] as NonNullable<(typeof inputs)[0]>,
      run: ([x]) => tf.mean(x as tf.Tensor, -1, true),
    }));
    const plugin = variant('misshapen', {
      build: (ctx: BuildContext<ToyAdapterConfig>) => ({ output: ctx.scope.add('residual', ctx.scope.op('tester-bad-shape', 'bad', [ctx.input]), ctx.input) }),
    });
    expect(await failure(checkPlacementShapes(ctxOf({ plugin }), 'after'))).toMatch(/inferred type/);
  });

  it('a tap adapter that rewires the base path', async () => {
    const plugin = variant('meddler', {
      modes: ['tap'],
      build: (ctx: BuildContext<ToyAdapterConfig>) => {
        const down = ctx.scope.dense('down', ctx.input, ctx.config.size);
        const up = ctx.scope.dense('up', down, ctx.width);
        ctx.builder.rewire(ctx.input, up, new Set([down]));
        return { output: up, outputs: { up } };
      },
    });
    expect(await failure(checkTapBaseUntouched(ctxOf({ plugin })))).toMatch(/changed base node|redirected|differs/);
  });
});

describe('runAdapterSuite', () => {
  function record(options: AdapterSuiteOptions): { tests: string[]; skipped: string[] } {
    const path: string[] = [];
    const tests: string[] = [];
    const skipped: string[] = [];
    const test = Object.assign((name: string) => void tests.push([...path, name].join(' > ')), {
      skip: (name: string) => void skipped.push([...path, name].join(' > ')),
    });
    const api: TestApi = {
      describe: (name, fn) => {
        path.push(name);
        fn();
        path.pop();
      },
      test,
    };
    runAdapterSuite({ ...options, testApi: api });
    return { tests, skipped };
  }

  it('registers a config block and one block per mode, skipping what does not apply', () => {
    const { paramCount: _p, ...rest } = toyAdapter;
    const plugin = defineAdapter<ToyAdapterConfig>({ ...rest, name: 'uncounted', modes: ['after', 'tap'] });
    const { tests, skipped } = record({ plugin });
    expect(tests).toContain(`adapter plugin 'uncounted' > config > defaults fit the schema; unknown fields and wrong types are ConfigErrors naming the field`);
    expect(tests.filter((t) => t.includes(`> mode 'after' >`))).toHaveLength(3);
    expect(tests).toContain(`adapter plugin 'uncounted' > mode 'tap' > publishes its outputs and leaves the base path untouched`);
    expect(skipped).toEqual(expect.arrayContaining([
      `adapter plugin 'uncounted' > mode 'after' > parameters added equal paramCount summed over splices (skipped: the plugin declares no paramCount)`,
      `adapter plugin 'uncounted' > mode 'after' > identity init leaves every output unchanged (skipped: no case has isIdentityAtInit(config) === true)`,
    ]));
  });

  it('honours skip, mode restrictions per case, and rejects modes the plugin lacks', () => {
    const checks = adapterChecks({ plugin: toyZeroAdapter, modes: ['wrap', 'parallel'], cases: [{ config: {}, modes: ['wrap'] }], skip: ['save-load-round-trip'] });
    expect(checks.some((c) => c.id === 'save-load-round-trip')).toBe(false);
    expect(checks.filter((c) => c.mode === 'parallel').every((c) => c.skip === `no case supports mode 'parallel'`)).toBe(true);
    const modes: SpliceMode[] = ['tap'];
    expect(() => adapterChecks({ plugin: variant('after-only', { modes: ['after'] }), modes })).toThrow(/does not declare mode 'tap'/);
  });
});
