// Float64 CPU implementations of PyTorch's optimizer formulas (torch/optim/sgd.py and adamw.py,
// single-tensor paths, torch 1.13), the oracle for the optimizer tests. Not a test file.

export interface SgdRef {
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

/** One SGD step on p (in place); buf holds the momentum buffer (null before the first step). */
export function sgdStep(p: Float64Array, g: ArrayLike<number>, o: SgdRef, state: { buf: Float64Array | null }): void {
  const { lr, momentum = 0, dampening = 0, nesterov = false, weightDecay = 0 } = o;
  const d = Float64Array.from(g, (gi, i) => (weightDecay !== 0 ? gi + weightDecay * p[i] : gi));
  if (momentum !== 0) {
    if (state.buf === null) state.buf = Float64Array.from(d);
    else for (let i = 0; i < d.length; i++) state.buf[i] = momentum * state.buf[i] + (1 - dampening) * d[i];
    for (let i = 0; i < d.length; i++) d[i] = nesterov ? d[i] + momentum * state.buf[i] : state.buf[i];
  }
  for (let i = 0; i < p.length; i++) p[i] -= lr * d[i];
}

export interface AdamWRef {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

/** One AdamW step on p (in place). */
export function adamwStep(p: Float64Array, g: ArrayLike<number>, o: AdamWRef, s: { step: number; m: Float64Array; v: Float64Array }): void {
  const { lr, betas: [b1, b2] = [0.9, 0.999], eps = 1e-8, weightDecay = 0.01 } = o;
  s.step++;
  const bc1 = 1 - b1 ** s.step;
  const bc2 = 1 - b2 ** s.step;
  for (let i = 0; i < p.length; i++) {
    p[i] *= 1 - lr * weightDecay;
    s.m[i] = b1 * s.m[i] + (1 - b1) * g[i];
    s.v[i] = b2 * s.v[i] + (1 - b2) * g[i] * g[i];
    const denom = Math.sqrt(s.v[i]) / Math.sqrt(bc2) + eps;
    p[i] -= (lr / bc1) * (s.m[i] / denom);
  }
}

/** max |a − b| / max |b|: error relative to the size of the values. */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return err / Math.max(scale, 1e-30);
}

/** One Adam step on p (in place): L2 weight decay added to the gradient (torch/optim/adam.py). */
export function adamStep(p: Float64Array, g: ArrayLike<number>, o: AdamWRef, s: { step: number; m: Float64Array; v: Float64Array }): void {
  const { lr, betas: [b1, b2] = [0.9, 0.999], eps = 1e-8, weightDecay = 0 } = o;
  s.step++;
  const bc1 = 1 - b1 ** s.step;
  const bc2 = 1 - b2 ** s.step;
  for (let i = 0; i < p.length; i++) {
    const gi = g[i] + weightDecay * p[i];
    s.m[i] = b1 * s.m[i] + (1 - b1) * gi;
    s.v[i] = b2 * s.v[i] + (1 - b2) * gi * gi;
    p[i] -= (lr / bc1) * (s.m[i] / (Math.sqrt(s.v[i]) / Math.sqrt(bc2) + eps));
  }
}

export interface RMSpropRef {
  lr?: number;
  alpha?: number;
  eps?: number;
  weightDecay?: number;
  momentum?: number;
  centered?: boolean;
}

/** One RMSprop step on p (in place), torch/optim/rmsprop.py; state arrays start at zero. */
export function rmspropStep(
  p: Float64Array,
  g: ArrayLike<number>,
  o: RMSpropRef,
  s: { sq: Float64Array; ga: Float64Array; buf: Float64Array },
): void {
  const { lr = 0.01, alpha = 0.99, eps = 1e-8, weightDecay = 0, momentum = 0, centered = false } = o;
  for (let i = 0; i < p.length; i++) {
    const gi = g[i] + weightDecay * p[i];
    s.sq[i] = alpha * s.sq[i] + (1 - alpha) * gi * gi;
    let avg: number;
    if (centered) {
      s.ga[i] = alpha * s.ga[i] + (1 - alpha) * gi;
      avg = Math.sqrt(s.sq[i] - s.ga[i] * s.ga[i]) + eps;
    } else avg = Math.sqrt(s.sq[i]) + eps;
    if (momentum > 0) {
      s.buf[i] = momentum * s.buf[i] + gi / avg;
      p[i] -= lr * s.buf[i];
    } else p[i] -= (lr * gi) / avg;
  }
}
