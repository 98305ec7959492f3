/** Median wall time of `fn` over `reps` runs after `warmup` runs, in milliseconds. */
export function timeMedian(fn: () => void, reps: number, warmup = 1): number {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

export const ratio = (a: number, b: number): number => (b === 0 ? NaN : a / b);
export const pct = (a: number, b: number): number => (b === 0 ? NaN : (100 * (a - b)) / b);
