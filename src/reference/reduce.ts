/**
 * Reduction reference ops. Every reduction is written the same way: gather the
 * elements that land on each output position into a list (`reduceWith`), then
 * apply a plain function to that list. `dims: []` (or absent) reduces over all
 * dims; `keepdim` keeps reduced dims as size 1. Reducing everything with
 * keepdim false gives a rank-0 tensor.
 */
import { type RefTensor, checkTensor, normDim, normDims, numel, offsetOf, stridesOf, unravel } from './tensor.ts';

export interface ReduceAttrs {
  dims?: readonly number[];
  keepdim?: boolean;
}
export interface VarAttrs extends ReduceAttrs {
  correction?: number;
}
/** `dim` absent = over the flattened tensor, like torch.argmax(x). */
export interface ArgReduceAttrs {
  dim?: number;
  keepdim?: boolean;
}

/**
 * Groups the elements of `x` by output position (row-major order within a
 * group) and returns f(group) at each position.
 */
export function reduceWith(op: string, x: RefTensor, attrs: ReduceAttrs | undefined, f: (values: number[]) => number): RefTensor {
  checkTensor(op, x);
  const keepdim = attrs?.keepdim ?? false;
  if (typeof keepdim !== 'boolean') throw new Error(`${op}: keepdim must be a boolean, got ${JSON.stringify(keepdim)}`);
  const dims = normDims(op, attrs?.dims, x.shape.length);
  const keptShape = x.shape.map((d, i) => (dims.includes(i) ? 1 : d));
  const keptStrides = stridesOf(keptShape);
  const groups: number[][] = Array.from({ length: numel(keptShape) }, () => []);
  for (let i = 0; i < x.data.length; i++) {
    const idx = unravel(i, x.shape);
    for (const d of dims) idx[d] = 0;
    groups[offsetOf(idx, keptStrides)].push(x.data[i]);
  }
  const shape = keepdim ? keptShape : x.shape.filter((_, i) => !dims.includes(i));
  return { data: Float64Array.from(groups.map((g) => f(g))), shape };
}

// ---- plain functions on a list of values ----
export const sumOf = (v: number[]): number => v.reduce((s, x) => s + x, 0);
export const meanOf = (v: number[]): number => sumOf(v) / v.length;

/** Largest value; NaN if any value is NaN (like torch.max). */
function maxOf(op: string, v: number[]): number {
  if (v.length === 0) throw new Error(`${op}: cannot reduce over an empty dimension`);
  let m = -Infinity;
  for (const x of v) if (x > m || Number.isNaN(x)) m = x;
  return m;
}

function minOf(op: string, v: number[]): number {
  return -maxOf(
    op,
    v.map((x) => -x),
  );
}

/** Index of the first largest value (a NaN counts as largest, like torch.argmax). */
function argmaxOf(op: string, v: number[]): number {
  if (v.length === 0) throw new Error(`${op}: cannot reduce over an empty dimension`);
  let best = 0;
  for (let i = 1; i < v.length; i++) {
    if (Number.isNaN(v[best])) break;
    if (v[i] > v[best] || Number.isNaN(v[i])) best = i;
  }
  return best;
}

/** Σ(x − mean)² / (n − correction), two-pass. */
function varOf(v: number[], correction: number): number {
  const m = meanOf(v);
  return sumOf(v.map((x) => (x - m) * (x - m))) / (v.length - correction);
}

/** log Σ exp(x), shifted by the max; an infinite max is not subtracted (as PyTorch). */
export function logSumExpOf(v: number[]): number {
  let m = maxOf('logsumexp', v);
  if (!Number.isFinite(m)) m = Number.isNaN(m) ? m : 0;
  return m + Math.log(sumOf(v.map((x) => Math.exp(x - m))));
}

// ---- ops ----
export const sum = (x: RefTensor, attrs?: ReduceAttrs) => reduceWith('sum', x, attrs, sumOf);
export const mean = (x: RefTensor, attrs?: ReduceAttrs) => reduceWith('mean', x, attrs, meanOf);
export const max = (x: RefTensor, attrs?: ReduceAttrs) => reduceWith('max', x, attrs, (v) => maxOf('max', v));
export const min = (x: RefTensor, attrs?: ReduceAttrs) => reduceWith('min', x, attrs, (v) => minOf('min', v));
export const prod = (x: RefTensor, attrs?: ReduceAttrs) => reduceWith('prod', x, attrs, (v) => v.reduce((p, a) => p * a, 1));
export const logsumexp = (x: RefTensor, attrs?: ReduceAttrs) => reduceWith('logsumexp', x, attrs, logSumExpOf);

/** Variance; `correction` 0 = biased (÷n), 1 = unbiased (÷(n−1)); default 1 like torch.var. */
export function variance(x: RefTensor, attrs?: VarAttrs): RefTensor {
  const correction = attrs?.correction ?? 1;
  if (typeof correction !== 'number' || !(correction >= 0)) {
    throw new Error(`var: correction must be a number >= 0, got ${JSON.stringify(correction)}`);
  }
  return reduceWith('var', x, attrs, (v) => varOf(v, correction));
}

function argReduce(op: string, x: RefTensor, attrs: ArgReduceAttrs | undefined, pick: (v: number[]) => number) {
  checkTensor(op, x);
  const dim = attrs?.dim;
  const dims = dim === undefined ? [] : [normDim(op, dim, x.shape.length)];
  return reduceWith(op, x, { dims, keepdim: attrs?.keepdim }, pick);
}

/** Index (as a float) of the first maximum along `dim`. */
export const argmax = (x: RefTensor, attrs?: ArgReduceAttrs) => argReduce('argmax', x, attrs, (v) => argmaxOf('argmax', v));
/** Index (as a float) of the first minimum along `dim`. */
export const argmin = (x: RefTensor, attrs?: ArgReduceAttrs) =>
  argReduce('argmin', x, attrs, (v) =>
    argmaxOf(
      'argmin',
      v.map((a) => -a),
    ),
  );
