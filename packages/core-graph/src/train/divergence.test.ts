import { AdapterGraphError, TrainingDivergedError } from '../errors';
import { DivergenceMonitor } from './divergence';

/** Feeds (loss, gradNorm) pairs and returns the reason of the first divergence, or 'ok'. */
function run(steps: ReadonlyArray<readonly [number, number]>, monitor = new DivergenceMonitor()): string {
  try {
    steps.forEach(([loss, grad], i) => monitor.observe(i + 1, loss, grad));
    return 'ok';
  } catch (e) {
    expect(e).toBeInstanceOf(TrainingDivergedError);
    expect(e).toBeInstanceOf(AdapterGraphError);
    expect((e as TrainingDivergedError).code).toBe('E_TRAINING_DIVERGED');
    return `${(e as TrainingDivergedError).reason}@${(e as TrainingDivergedError).step}`;
  }
}

describe('DivergenceMonitor', () => {
  it('accepts a converging run with noisy loss and a growing but bounded gradient norm', () => {
    const steps = Array.from({ length: 200 }, (_v, i) => [0.69 * Math.exp(-i / 50) + 0.3 * Math.abs(Math.sin(i)), 0.5 + i * 0.05] as const);
    expect(run(steps)).toBe('ok');
  });

  it('stops at a non-finite loss or gradient norm', () => {
    expect(run([[0.7, 1], [Number.NaN, 1]])).toBe('loss-non-finite@2');
    expect(run([[0.7, 1], [Infinity, 1]])).toBe('loss-non-finite@2');
    expect(run([[0.7, 1], [0.7, Number.NaN]])).toBe('grad-non-finite@2');
    expect(run([[0.7, Infinity]])).toBe('grad-non-finite@1');
  });

  it('stops when the loss runs far above its start (lr 1000 reached 9e17 before the fix and exited 0)', () => {
    expect(run([[0.69, 1], [5, 2], [19.9, 2]])).toBe('ok'); // under 20 x max(start, 1)
    expect(run([[0.69, 1], [5, 2], [20.1, 2]])).toBe('loss-exploded@3');
    expect(run([[0.69, 1], [9e17, 3e16]])).toBe('loss-exploded@2');
    // Relative to its own start: a masked-LM loss starting at ln(30522) ~ 10.3 may reach 200.
    expect(run([[10.3, 1], [150, 1]])).toBe('ok');
    expect(run([[10.3, 1], [210, 1]])).toBe('loss-exploded@2');
  });

  it('stops when the gradient norm explodes relative to its early maximum', () => {
    const early = Array.from({ length: 5 }, (_v, i) => [0.7, [1, 3, 2, 2, 1][i] as number] as const);
    expect(run([...early, [0.7, 2.9e4]])).toBe('ok'); // under 1e4 x 3
    expect(run([...early, [0.7, 3.1e4]])).toBe('grad-exploded@6');
    // Tiny early norms (zero-initialised adapters) do not make ordinary later norms count as explosions.
    const tiny = Array.from({ length: 5 }, () => [0.7, 1e-4] as const);
    expect(run([...tiny, [0.7, 50]])).toBe('ok');
    expect(run([...tiny, [0.7, 2000]])).toBe('grad-exploded@6');
  });

  it('options: thresholds can be tightened or turned off; nonsense is refused', () => {
    expect(run([[1, 1], [3, 1]], new DivergenceMonitor({ lossFactor: 2 }))).toBe('loss-exploded@2');
    expect(run([[1, 1], [1e30, 1e30]], new DivergenceMonitor({ lossFactor: Infinity, gradFactor: Infinity, warmupSteps: 1 }))).toBe('ok');
    expect(() => new DivergenceMonitor({ lossFactor: 0.5 })).toThrow(/lossFactor must be > 1/);
    expect(() => new DivergenceMonitor({ warmupSteps: 0 })).toThrow(/warmupSteps/);
  });

  it('the message names the step and says what to do', () => {
    const m = new DivergenceMonitor();
    m.observe(1, 0.7, 1);
    expect(() => m.observe(2, 1e9, 1)).toThrow(/^training diverged at step 2: the loss 1\.000e\+9 is over 20 times its start \(0\.7000\); lower the learning rate \(--lr\)$/);
  });
});
