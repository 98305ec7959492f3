// Registers the checks as test blocks, in the spirit of typescript-eslint's RuleTester: one call per plugin.
import { ensureBackend, type SpliceMode } from '@adapters/core-graph';
import {
  checkConfigValidation, checkDefaultPlacement, checkIdentityAtInit, checkParamCount, checkPlacementShapes, checkSaveLoadRoundTrip, checkTapBaseUntouched,
  checkTrainsOnlyOwnParams, hasIdentityCase,
} from './checks';
import { casesFor } from './fixtures';
import type { AdapterSuiteOptions, CheckName, SuiteContext, TestApi } from './options';
import { normalize } from './options';

/** One registered check: `group` is the describe block under the plugin's block, `skip` says why it does not apply. */
export interface AdapterCheck {
  readonly id: CheckName;
  readonly mode?: SpliceMode;
  readonly group: string;
  readonly title: string;
  readonly skip?: string;
  run(): Promise<void>;
}

/**
 * Every check the suite would register for these options, as plain functions (run them directly to use
 * the checks without a test runner, or to assert that a broken plugin fails one).
 */
export function adapterChecks(options: AdapterSuiteOptions): AdapterCheck[] {
  const ctx: SuiteContext = normalize(options);
  const { plugin } = ctx;
  const skipped = new Set(options.skip ?? []);
  const checks: AdapterCheck[] = [];
  const add = (c: Omit<AdapterCheck, 'skip'>, skip?: string) => {
    if (skipped.has(c.id)) return;
    checks.push(skip === undefined ? c : { ...c, skip });
  };
  add({ id: 'config-validation', group: 'config', title: 'defaults fit the schema; unknown fields and wrong types are ConfigErrors naming the field', run: () => checkConfigValidation(ctx) });
  add(
    { id: 'default-placement', group: 'config', title: 'the default placement applies and gives valid shapes', run: () => checkDefaultPlacement(ctx) },
    plugin.defaultPlacement ? undefined : 'the plugin has no defaultPlacement',
  );
  for (const mode of options.defaultPlacementOnly ? ctx.modes.slice(0, 1) : ctx.modes) {
    const group = options.defaultPlacementOnly ? 'default placement' : `mode '${mode}'`;
    const noCase = casesFor(ctx, mode).length === 0 ? `no case supports mode '${mode}'` : undefined;
    add({ id: 'placement-shapes', mode, group, title: 'placement records a splice per site and traced shapes equal inferred types', run: () => checkPlacementShapes(ctx, mode) }, noCase);
    add(
      { id: 'param-count', mode, group, title: 'parameters added equal paramCount summed over splices', run: () => checkParamCount(ctx, mode) },
      noCase ?? (plugin.paramCount ? undefined : 'the plugin declares no paramCount'),
    );
    if (mode === 'tap') {
      add({ id: 'tap-base-untouched', mode, group, title: 'publishes its outputs and leaves the base path untouched', run: () => checkTapBaseUntouched(ctx) }, noCase);
    } else {
      add(
        { id: 'identity-at-init', mode, group, title: 'identity init leaves every output unchanged', run: () => checkIdentityAtInit(ctx, mode) },
        noCase ?? (hasIdentityCase(ctx, mode) ? undefined : 'no case has isIdentityAtInit(config) === true'),
      );
    }
    add({ id: 'trains-only-own-params', mode, group, title: "only the policy's parameters change in training (bit-for-bit)", run: () => checkTrainsOnlyOwnParams(ctx, mode) }, noCase);
    add({ id: 'save-load-round-trip', mode, group, title: 'saveAdapter → loadAdapter restores graph, weights and outputs exactly', run: () => checkSaveLoadRoundTrip(ctx, mode) }, noCase);
  }
  return checks;
}

function globalTestApi(): TestApi {
  const g = globalThis as { describe?: TestApi['describe']; test?: TestApi['test'] };
  if (typeof g.describe !== 'function' || typeof g.test !== 'function') {
    throw new Error('runAdapterSuite registers test blocks: call it at the top level of a test file, or pass options.testApi');
  }
  return { describe: g.describe, test: g.test };
}

/**
 * Registers the conformance suite for an adapter plugin: `describe("adapter plugin 'NAME'")` with a
 * config block and one block per splice mode. Call it at the top level of a test file.
 */
export function runAdapterSuite(options: AdapterSuiteOptions): void {
  const api = options.testApi ?? globalTestApi();
  const checks = adapterChecks(options);
  api.describe(`adapter plugin '${options.plugin.name}'`, () => {
    const groups = [...new Set(checks.map((c) => c.group))];
    for (const group of groups) {
      api.describe(group, () => {
        for (const c of checks.filter((x) => x.group === group)) {
          if (c.skip !== undefined) {
            const skip = api.test.skip;
            if (skip) skip(`${c.title} (skipped: ${c.skip})`, () => undefined);
            continue;
          }
          // First use: pick a backend when the test runner's setup did not (a plain jest project has none).
          const run = async (): Promise<void> => {
            await ensureBackend();
            await c.run();
          };
          if (options.timeout === undefined) api.test(c.title, run);
          else api.test(c.title, run, options.timeout);
        }
      });
    }
  });
}
