// Stops a run that has left the range converging runs stay in, instead of finishing "successfully" with a loss of
// 1e17 and weights of 1e16 (what lr 1000 did before): fed the loss and the (pre-clip) gradient norm every step.
import { TrainingDivergedError } from '../errors';

export interface DivergenceOptions {
  /** The loss may reach this multiple of its starting value (at least 1) before the run counts as diverged. Default 20. */
  readonly lossFactor?: number;
  /** The gradient norm may reach this multiple of its largest value over the first `warmupSteps` steps. Default 1e4. */
  readonly gradFactor?: number;
  /** Steps whose gradient norms set the reference (early norms vary most). Default 5. */
  readonly warmupSteps?: number;
  /** Norms at or below this never count as exploded (zero-initialised adapters start with tiny gradients). Default 1000. */
  readonly gradFloor?: number;
}

/**
 * Watches one run. Thresholds are relative to the run's own start, so they fit any loss scale (2-way classification
 * starts near ln 2, masked LM near ln |vocab|) and are far outside what a converging run reaches: a cross-entropy 20
 * times its start means confidently wrong logits, and clipped training never needs gradients 10^4 times its early ones.
 */
export class DivergenceMonitor {
  private readonly lossFactor: number;
  private readonly gradFactor: number;
  private readonly warmupSteps: number;
  private readonly gradFloor: number;
  private startLoss: number | undefined;
  private gradReference = 0;
  private seen = 0;

  constructor(options: DivergenceOptions = {}) {
    this.lossFactor = options.lossFactor ?? 20;
    this.gradFactor = options.gradFactor ?? 1e4;
    this.warmupSteps = options.warmupSteps ?? 5;
    this.gradFloor = options.gradFloor ?? 1000;
    for (const [k, v] of [['lossFactor', this.lossFactor], ['gradFactor', this.gradFactor]] as const) {
      if (!(v > 1)) throw new RangeError(`DivergenceMonitor: ${k} must be > 1 (Infinity turns the check off), got ${v}`);
    }
    if (!(Number.isInteger(this.warmupSteps) && this.warmupSteps >= 1)) throw new RangeError(`DivergenceMonitor: warmupSteps must be a positive integer, got ${this.warmupSteps}`);
  }

  /** Records one step; throws TrainingDivergedError when the run has diverged. */
  observe(step: number, loss: number, gradNorm: number): void {
    if (!Number.isFinite(loss)) throw new TrainingDivergedError(step, 'loss-non-finite', `the loss is ${loss}`);
    if (!Number.isFinite(gradNorm)) throw new TrainingDivergedError(step, 'grad-non-finite', `the gradient norm is ${gradNorm}`);
    this.seen += 1;
    this.startLoss ??= loss;
    const lossLimit = this.lossFactor * Math.max(this.startLoss, 1);
    if (loss > lossLimit) {
      throw new TrainingDivergedError(step, 'loss-exploded', `the loss ${loss.toPrecision(4)} is over ${this.lossFactor} times its start (${this.startLoss.toPrecision(4)})`);
    }
    if (this.seen <= this.warmupSteps) {
      this.gradReference = Math.max(this.gradReference, gradNorm);
      return;
    }
    if (gradNorm > this.gradFloor && gradNorm > this.gradFactor * this.gradReference) {
      throw new TrainingDivergedError(step, 'grad-exploded', `the gradient norm ${gradNorm.toPrecision(4)} is over ${this.gradFactor} times its early maximum (${this.gradReference.toPrecision(4)})`);
    }
  }
}
