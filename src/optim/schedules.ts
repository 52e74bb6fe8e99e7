// Learning-rate schedules. A schedule is a plain function from time t (epochs or steps; may be
// fractional) to the factor that multiplies each group's base learning rate; schedules compose
// (`linearWarmup(5, cosine(95))`). LRScheduler applies one to an optimizer by setting each
// group's `lr` = base lr × factor, at construction (t = start) and at every step() / set(t).
//
// Per-epoch or per-step is the caller's choice of unit: call step() once per epoch with
// cosine(epochs), or once per iteration with cosine(epochs × itersPerEpoch); `perStep` turns an
// epoch schedule into a step one evaluated at fractional epochs.

import type { Optimizer } from './optimizer.ts';

/** Factor of the base learning rate at time t. */
export type Schedule = (t: number) => number;

function checkPositive(what: string, v: number): void {
  if (!(Number.isFinite(v) && v > 0)) throw new Error(`${what} must be a positive number, got ${v}`);
}

/** The same factor at every t. @example optim.linearWarmup(5, optim.constant(1)) // warm-up, then the base lr */
export function constant(factor = 1): Schedule {
  return () => factor;
}

/**
 * Cosine annealing from 1 down to `minFactor` at t = total (then constant):
 * minFactor + (1 − minFactor) · (1 + cos(π t / total)) / 2 — torch's CosineAnnealingLR closed form
 * and MoCo's per-epoch schedule.
 *
 * @example
 * const f = optim.cosine(200);
 * [f(0), f(100), f(200)]; // [1, 0.5, 0]
 */
export function cosine(total: number, opts: { minFactor?: number } = {}): Schedule {
  checkPositive('cosine: total', total);
  const lo = opts.minFactor ?? 0;
  return (t) => lo + ((1 - lo) * (1 + Math.cos((Math.PI * Math.min(Math.max(t, 0), total)) / total))) / 2;
}

/** gamma^⌊t / stepSize⌋ (torch's StepLR). @example optim.stepDecay(30)(65) // 0.01 */
export function stepDecay(stepSize: number, gamma = 0.1): Schedule {
  checkPositive('stepDecay: stepSize', stepSize);
  return (t) => gamma ** Math.floor(t / stepSize);
}

/** gamma^(number of milestones ≤ t) (torch's MultiStepLR; MoCo v1's lr drops at epochs 120, 160). @example optim.multiStep([120, 160])(150) // 0.1 */
export function multiStep(milestones: readonly number[], gamma = 0.1): Schedule {
  const ms = [...milestones].sort((a, b) => a - b);
  return (t) => gamma ** ms.filter((m) => m <= t).length;
}

/**
 * Linear warm-up from `startFactor` (default 0) to 1 over `steps`, then `after(t − steps)`:
 * linearWarmup(10, cosine(90)) warms up for 10 epochs and anneals over the remaining 90.
 *
 * @example
 * const f = optim.linearWarmup(10, optim.cosine(90));
 * [f(0), f(5), f(10), f(100)]; // [0, 0.5, 1, 0]
 */
export function linearWarmup(steps: number, after: Schedule = constant(1), opts: { startFactor?: number } = {}): Schedule {
  checkPositive('linearWarmup: steps', steps);
  const s0 = opts.startFactor ?? 0;
  return (t) => (t < steps ? s0 + ((1 - s0) * Math.max(t, 0)) / steps : after(t - steps));
}

/** An epoch-based schedule evaluated per step: t steps = t / stepsPerEpoch epochs. @example optim.perStep(optim.cosine(10), 100)(500) // 0.5: step 500 is epoch 5 of 10 */
export function perStep(schedule: Schedule, stepsPerEpoch: number): Schedule {
  checkPositive('perStep: stepsPerEpoch', stepsPerEpoch);
  return (t) => schedule(t / stepsPerEpoch);
}

/** LRScheduler's state for checkpoints: the time t and the base learning rates. */
export interface SchedulerState {
  t: number;
  baseLrs: number[];
}

/**
 * Sets an optimizer's group learning rates to base × schedule(t).
 *
 * @example
 * const model = new nn.Linear(4, 2);
 * const opt = new optim.SGD(model.parameters(), { lr: 0.06, momentum: 0.9 });
 * const sched = new optim.LRScheduler(opt, optim.cosine(200)); // call sched.step() once per epoch
 * sched.step();
 * console.log(sched.lrs); // [0.06 · (1 + cos(π/200)) / 2]
 */
export class LRScheduler {
  /** Each group's learning rate when the scheduler was made (the schedule's 1.0). */
  baseLrs: number[];
  /** Current time (epochs or steps, as the caller counts). */
  t: number;

  constructor(
    readonly optimizer: Optimizer<any>,
    readonly schedule: Schedule,
    opts: { start?: number } = {},
  ) {
    this.baseLrs = optimizer.paramGroups.map((g) => g.lr);
    this.t = opts.start ?? 0;
    this.set(this.t);
  }

  /** Advances time by one (an epoch or a step) and applies the schedule; returns the first group's lr. */
  step(): number {
    return this.set(this.t + 1);
  }

  /** Moves to time t (may be fractional) and applies the schedule; returns the first group's lr. */
  set(t: number): number {
    this.t = t;
    const f = this.schedule(t);
    if (!(Number.isFinite(f) && f >= 0))
      throw new Error(`LRScheduler: the schedule gave factor ${f} at t = ${t}; factors must be finite and ≥ 0`);
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = this.baseLrs[i] * f));
    return this.optimizer.paramGroups[0].lr;
  }

  /** Current learning rate of each group. */
  get lrs(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  stateDict(): SchedulerState {
    return { t: this.t, baseLrs: [...this.baseLrs] };
  }

  loadStateDict(s: SchedulerState): void {
    if (!Array.isArray(s.baseLrs) || s.baseLrs.length !== this.optimizer.paramGroups.length) {
      throw new Error(
        `LRScheduler.loadStateDict: ${s.baseLrs?.length ?? 0} base learning rate(s) for ${this.optimizer.paramGroups.length} parameter group(s)`,
      );
    }
    this.baseLrs = [...s.baseLrs];
    this.set(s.t);
  }
}
