// Creating tensors: from host data, filled with a constant, random (seeded), or a range.

import type { Tensor } from './tensor.ts';
import { fmt, numel } from './shape.ts';
import { defaultGenerator, type Generator } from './random.ts';
import { fill, fromArray } from './ops/creation-internal.ts';

type Nested = number | Nested[];

function inferShape(data: Nested): number[] {
  const shape: number[] = [];
  let d: Nested = data;
  while (Array.isArray(d)) {
    shape.push(d.length);
    d = d[0] as Nested;
  }
  return shape;
}

/**
 * A tensor from host data: a number (rank 0), nested arrays, or a flat array/Float32Array with
 * an explicit shape. `requiresGrad` makes it a leaf whose gradient backward() computes.
 *
 * @example
 * const a = tensor([[1, 2], [3, 4]]);                        // shape [2, 2]
 * const b = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
 * const w = tensor([0.5, -1], undefined, { requiresGrad: true });
 * const s = tensor(3);                                        // rank 0
 */
export function tensor(data: Nested | ArrayLike<number>, shape?: readonly number[], opts: { requiresGrad?: boolean } = {}): Tensor {
  let flat: ArrayLike<number>;
  let s: readonly number[];
  if (typeof data === 'number') {
    flat = [data];
    s = shape ?? [];
  } else if (Array.isArray(data)) {
    const inferred = inferShape(data);
    flat = (data as unknown[]).flat(Infinity) as number[];
    if (flat.length !== numel(inferred)) throw new Error(`tensor: nested array is ragged (inferred shape ${fmt(inferred)} but ${flat.length} values)`);
    s = shape ?? inferred;
  } else {
    flat = data;
    s = shape ?? [data.length];
  }
  for (let i = 0; i < flat.length; i++) if (typeof flat[i] !== 'number') throw new Error(`tensor: value at flat index ${i} is ${typeof flat[i]}, not a number`);
  const t = fromArray(flat, s);
  if (opts.requiresGrad) t.requiresGrad = true;
  return t;
}

/** A tensor of the given shape filled with `value`. @example full([2, 3], 7) // [[7, 7, 7], [7, 7, 7]] */
export function full(shape: readonly number[], value: number, opts: { requiresGrad?: boolean } = {}): Tensor {
  const t = fill(shape, value);
  if (opts.requiresGrad) t.requiresGrad = true;
  return t;
}
/** A tensor of zeros. @example const b = zeros([10], { requiresGrad: true }) */
export const zeros = (shape: readonly number[], opts: { requiresGrad?: boolean } = {}) => full(shape, 0, opts);
/** A tensor of ones. @example ones([2, 2]) // [[1, 1], [1, 1]] */
export const ones = (shape: readonly number[], opts: { requiresGrad?: boolean } = {}) => full(shape, 1, opts);
/** Zeros with t's shape. @example zerosLike(randn([2, 3])) // shape [2, 3] */
export const zerosLike = (t: Tensor) => full(t.shape, 0);
/** Ones with t's shape. @example onesLike(randn([4])) // [1, 1, 1, 1] */
export const onesLike = (t: Tensor) => full(t.shape, 1);

export interface RandomOptions {
  requiresGrad?: boolean;
  generator?: Generator;
}

/**
 * Uniform values in [low, high) (default [0, 1)); seeded by manualSeed.
 *
 * @example
 * const u = rand([2, 3]);                       // in [0, 1)
 * const v = rand([100], { low: -1, high: 1, generator: new Generator(7) });
 */
export function rand(shape: readonly number[], opts: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  const g = opts.generator ?? defaultGenerator;
  const lo = opts.low ?? 0;
  const hi = opts.high ?? 1;
  const data = new Float32Array(numel(shape));
  for (let i = 0; i < data.length; i++) data[i] = lo + (hi - lo) * g.uniform();
  return tensor(data, shape, opts);
}

/**
 * Normal values with the given mean and std (default 0, 1); seeded by manualSeed.
 *
 * @example
 * manualSeed(0);
 * const w = randn([784, 10], { std: 0.01, requiresGrad: true });
 */
export function randn(shape: readonly number[], opts: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  const g = opts.generator ?? defaultGenerator;
  const mean = opts.mean ?? 0;
  const std = opts.std ?? 1;
  const data = new Float32Array(numel(shape));
  for (let i = 0; i < data.length; i++) data[i] = mean + std * g.normal();
  return tensor(data, shape, opts);
}

/**
 * start, start+step, ... < end, as torch.arange.
 *
 * @example
 * arange(4);          // [0, 1, 2, 3]
 * arange(1, 2, 0.25); // [1, 1.25, 1.5, 1.75]
 */
export function arange(start: number, end?: number, step = 1): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (step === 0) throw new Error('arange: step must be non-zero');
  const n = Math.max(0, Math.ceil((end - start) / step));
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return tensor(data, [n]);
}
