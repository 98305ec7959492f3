// Float64 erf/erfc accurate to ~1e-15 absolute, for the reference GELU.
// Small |x|: the all-positive series erf(x) = 2/√π·e^{-x²}·Σ (2x²)^n·x/(2n+1)!!
// (no alternating cancellation, unlike the Maclaurin series).
// Large |x|: the Laplace continued fraction for erfc, evaluated with modified Lentz.

const TWO_OVER_SQRT_PI = 1.1283791670955126; // 2/√π
const ONE_OVER_SQRT_PI = 0.5641895835477563; // 1/√π
/** Below this the series is used; above it the continued fraction converges fast. */
const SWITCH = 2.5;

function erfSeries(x: number): number {
  const twoX2 = 2 * x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 500; n++) {
    term *= twoX2 / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x * x) * sum;
}

/** erfc(x) for x ≥ SWITCH: e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))). */
function erfcContinuedFraction(x: number): number {
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 5000; n++) {
    const a = n / 2;
    d = x + a * d;
    d = d === 0 ? tiny : 1 / d;
    c = x + a / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return (ONE_OVER_SQRT_PI * Math.exp(-x * x)) / f;
}

export function refErf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return -refErf(-x);
  if (x < SWITCH) return erfSeries(x);
  if (x > 27) return 1; // erfc underflows
  return 1 - erfcContinuedFraction(x);
}

/** Complementary error function; keeps relative accuracy in the right tail (used by GELU for x ≪ 0). */
export function refErfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - refErfc(-x);
  if (x < SWITCH) return 1 - erfSeries(x);
  if (x > 27) return 0;
  return erfcContinuedFraction(x);
}
