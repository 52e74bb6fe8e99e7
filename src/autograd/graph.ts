// The autograd graph is built eagerly: every differentiable op that sees an input needing a
// gradient attaches a GradNode to its output, holding the op's name and attributes (so the graph
// can also be replayed on the float64 CPU reference by gradcheck), its inputs, and a backward
// rule mapping the output's gradient to one gradient per input.

import type { Tensor } from '../tensor.ts';
import { isAnomalyDetectionEnabled, checkOutput } from './anomaly.ts';

export type BackwardRule = (grad: Tensor) => (Tensor | null | undefined)[];

export interface GradNode {
  op: string;
  attrs: Record<string, unknown>;
  inputs: Tensor[];
  /** Dropped (set to null) after backward() unless retainGraph, freeing saved tensors. */
  backward: BackwardRule | null;
}

let enabled = true;

/**
 * Runs fn without recording gradients (evaluation, optimizer updates). fn must be synchronous.
 *
 * @example
 * const w = randn([3, 3], { requiresGrad: true });
 * const y = noGrad(() => w.matmul(w)); // no graph: y.node === null
 */
export function noGrad<T>(fn: () => T): T {
  const prev = enabled;
  enabled = false;
  try {
    const r = fn();
    if (r instanceof Promise) throw new Error('noGrad: fn returned a Promise; pass a synchronous function');
    return r;
  } finally {
    enabled = prev;
  }
}

/** False inside noGrad() (and while a backward rule runs). @example noGrad(() => isGradEnabled()) // false */
export function isGradEnabled(): boolean {
  return enabled;
}

/** True if a tensor takes part in differentiation (a leaf with requiresGrad, or computed from one). */
export function needsGrad(t: Tensor): boolean {
  return t.requiresGrad || t.node !== null;
}

/**
 * Attaches a node to `out` when grad mode is on and any input needs a gradient. Returns out.
 * `attrs` must be enough for the reference op of the same name to recompute out from inputs.
 */
export function record(out: Tensor, op: string, inputs: Tensor[], attrs: Record<string, unknown>, backward: BackwardRule): Tensor {
  if (enabled && inputs.some(needsGrad)) out.node = { op, attrs, inputs, backward };
  if (isAnomalyDetectionEnabled()) checkOutput(out, op, inputs); // see anomaly.ts
  return out;
}
