// Float64 finite-difference gradients for checking analytic/autodiff gradients in tests.

/**
 * Central differences: g[i] ≈ (f(x + h·e_i) - f(x - h·e_i)) / (x_i⁺ - x_i⁻).
 * Dividing by the difference of the actually-representable perturbed points (not 2h) removes the
 * rounding error of x_i ± h. Truncation error is O(h²·f'''), rounding error O(ε·|f| / h).
 * Each evaluation gets a fresh copy of x, so f may mutate its argument.
 */
export function numericGradient(
  f: (x: Float64Array) => number,
  x: Float64Array,
  eps = 1e-3,
  scheme: 'central' = 'central',
): Float64Array {
  if (scheme !== 'central') throw new Error(`numericGradient: unsupported scheme ${String(scheme)}`);
  if (!(eps > 0)) throw new Error(`numericGradient: eps must be > 0, got ${eps}`);
  const grad = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const xi = x[i]!;
    const plus = Float64Array.from(x);
    const minus = Float64Array.from(x);
    plus[i] = xi + eps;
    minus[i] = xi - eps;
    const step = plus[i]! - minus[i]!; // read before f, which may overwrite its argument
    grad[i] = (f(plus) - f(minus)) / step;
  }
  return grad;
}

export interface GradientComparison {
  maxAbsError: number;
  /** max over i of |a - n| / max(|a|, |n|, 1e-8). */
  maxRelError: number;
  /** Index with the largest relative error (the usual failure criterion); -1 for empty input. */
  worstIndex: number;
}

export function compareGradients(analytic: ArrayLike<number>, numeric: ArrayLike<number>): GradientComparison {
  if (analytic.length !== numeric.length) {
    throw new Error(`compareGradients: length mismatch ${analytic.length} vs ${numeric.length}`);
  }
  let maxAbsError = 0;
  let maxRelError = 0;
  let worstIndex = analytic.length > 0 ? 0 : -1;
  for (let i = 0; i < analytic.length; i++) {
    const a = analytic[i]!;
    const n = numeric[i]!;
    let abs = Math.abs(a - n);
    // NaN/Infinity anywhere must fail loudly rather than vanish in Math.max.
    if (!Number.isFinite(abs)) abs = Infinity;
    const rel = abs === Infinity ? Infinity : abs / Math.max(Math.abs(a), Math.abs(n), 1e-8);
    if (abs > maxAbsError) maxAbsError = abs;
    if (rel > maxRelError) {
      maxRelError = rel;
      worstIndex = i;
    }
  }
  return { maxAbsError, maxRelError, worstIndex };
}
