// Creating tensors: from host data, filled with a constant, random (seeded), or a range.

import type { Tensor } from './tensor.ts';
import { fmt, numel } from './shape.ts';
import { defaultGenerator, type Generator } from './random.ts';
import { fill, fromArray } from './ops/creation-internal.ts';
import type { DType } from './dtype.ts';

/** The options every creation function takes. */
export interface CreationOptions {
  requiresGrad?: boolean;
  /** 'float32' (default) or 'int32'. */
  dtype?: DType;
}

function leaf(t: Tensor, opts: CreationOptions, op: string): Tensor {
  if (opts.requiresGrad) {
    if (t.dtype !== 'float32') throw new Error(`${op}: only float32 tensors can require gradients (this one is ${t.dtype}), as in PyTorch`);
    t.requiresGrad = true;
  }
  return t;
}

type Nested = number | Nested[];

/**
 * A shape as PyTorch takes it: an array (`zeros([2, 3])`) or the sizes as arguments
 * (`zeros(2, 3)`), optionally followed by an options object.
 */
export type ShapeArgs<O> = [shape: readonly number[], opts?: O] | number[] | [...number[], O];

/** Splits ShapeArgs into a validated shape and the options, or says what was expected. */
export function parseShapeArgs<O extends object>(fn: string, args: readonly unknown[]): [number[], O] {
  let shape: unknown[];
  let opts: unknown;
  if (Array.isArray(args[0])) {
    shape = args[0];
    opts = args[1];
    if (args.length > 2)
      throw new Error(`${fn}: got ${args.length} arguments after a shape array; call ${fn}([2, 3]) or ${fn}([2, 3], { … })`);
  } else {
    const last = args.at(-1);
    const hasOpts = last !== null && typeof last === 'object';
    shape = hasOpts ? args.slice(0, -1) : [...args];
    opts = hasOpts ? last : undefined;
  }
  const bad = shape.findIndex((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 0);
  if (bad >= 0) {
    throw new Error(
      `${fn}: a shape is non-negative integer sizes, as an array (${fn}([2, 3])) or as arguments (${fn}(2, 3)); ` +
        `got ${JSON.stringify(args.length && Array.isArray(args[0]) ? args[0] : args)} (size ${bad} is ${String(shape[bad])})`,
    );
  }
  if (opts !== undefined && (opts === null || typeof opts !== 'object'))
    throw new Error(`${fn}: options must be an object, got ${String(opts)}`);
  return [shape as number[], (opts ?? {}) as O];
}

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
 * an explicit shape. `requiresGrad` makes it a leaf whose gradient backward() computes. The dtype
 * is float32 unless `dtype` says otherwise or the data is an Int32Array (unlike PyTorch, integer
 * JS numbers do not make an integer tensor: JS has one number type).
 *
 * @example
 * const a = tensor([[1, 2], [3, 4]]);                        // shape [2, 2]
 * const b = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
 * const w = tensor([0.5, -1], { requiresGrad: true });          // options second, as in PyTorch
 * const s = tensor(3);                                        // rank 0
 * const labels = tensor([3, 1, 4], { dtype: 'int32' });
 */
export function tensor(data: Nested | ArrayLike<number>, opts?: CreationOptions): Tensor;
export function tensor(data: Nested | ArrayLike<number>, shape?: readonly number[], opts?: CreationOptions): Tensor;
export function tensor(
  data: Nested | ArrayLike<number>,
  shapeOrOpts?: readonly number[] | CreationOptions,
  opts: CreationOptions = {},
): Tensor {
  let shape: readonly number[] | undefined;
  if (shapeOrOpts !== undefined && !Array.isArray(shapeOrOpts)) {
    if (typeof shapeOrOpts !== 'object' || shapeOrOpts === null)
      throw new Error(
        `tensor: the second argument must be a shape array or an options object ({ dtype, requiresGrad }), got ${String(shapeOrOpts)}`,
      );
    opts = shapeOrOpts as CreationOptions;
  } else shape = shapeOrOpts as readonly number[] | undefined;
  let flat: ArrayLike<number>;
  let s: readonly number[];
  if (typeof data === 'number') {
    flat = [data];
    s = shape ?? [];
  } else if (Array.isArray(data)) {
    const inferred = inferShape(data);
    flat = (data as unknown[]).flat(Infinity) as number[];
    if (flat.length !== numel(inferred))
      throw new Error(`tensor: nested array is ragged (inferred shape ${fmt(inferred)} but ${flat.length} values)`);
    s = shape ?? inferred;
  } else {
    flat = data;
    s = shape ?? [data.length];
  }
  for (let i = 0; i < flat.length; i++)
    if (typeof flat[i] !== 'number') throw new Error(`tensor: value at flat index ${i} is ${typeof flat[i]}, not a number`);
  const dtype = opts.dtype ?? (data instanceof Int32Array ? 'int32' : 'float32');
  return leaf(fromArray(flat, s, dtype), opts, 'tensor');
}

/** A tensor of the given shape filled with `value`. @example full([2, 3], 7) // [[7, 7, 7], [7, 7, 7]] */
export function full(shape: readonly number[], value: number, opts: CreationOptions = {}): Tensor {
  if (!Array.isArray(shape))
    throw new Error(`full: the shape comes first, as an array: full([2, 3], ${value}); got ${JSON.stringify(shape)}`);
  if (typeof value !== 'number') throw new Error(`full: the fill value must be a number, got ${JSON.stringify(value)}`);
  return leaf(fill(parseShapeArgs('full', [shape])[0], value, opts.dtype), opts, 'full');
}
/** A tensor of zeros; the shape as an array or as arguments. @example const b = zeros([10], { requiresGrad: true }); zeros(2, 3) */
export function zeros(...args: ShapeArgs<CreationOptions>): Tensor {
  const [shape, opts] = parseShapeArgs<CreationOptions>('zeros', args);
  return full(shape, 0, opts);
}
/** A tensor of ones; the shape as an array or as arguments. @example ones([2, 2]) // [[1, 1], [1, 1]]; ones(2, 2) too */
export function ones(...args: ShapeArgs<CreationOptions>): Tensor {
  const [shape, opts] = parseShapeArgs<CreationOptions>('ones', args);
  return full(shape, 1, opts);
}
/** Zeros with t's shape and dtype. @example zerosLike(randn([2, 3])) // shape [2, 3] */
export const zerosLike = (t: Tensor) => full(t.shape, 0, { dtype: t.dtype });
/** Ones with t's shape and dtype. @example onesLike(randn([4])) // [1, 1, 1, 1] */
export const onesLike = (t: Tensor) => full(t.shape, 1, { dtype: t.dtype });

export interface RandomOptions {
  requiresGrad?: boolean;
  generator?: Generator;
}

/**
 * Uniform values in [low, high) (default [0, 1)); seeded by manualSeed.
 *
 * @example
 * const u = rand([2, 3]);                       // in [0, 1); rand(2, 3) too
 * const v = rand([100], { low: -1, high: 1, generator: new Generator(7) });
 */
export function rand(...args: ShapeArgs<RandomOptions & { low?: number; high?: number }>): Tensor {
  const [shape, opts] = parseShapeArgs<RandomOptions & { low?: number; high?: number }>('rand', args);
  const g = opts.generator ?? defaultGenerator;
  const lo = opts.low ?? 0;
  const hi = opts.high ?? 1;
  const data = new Float32Array(numel(shape));
  for (let i = 0; i < data.length; i++) data[i] = lo + (hi - lo) * g.uniform();
  return tensor(data, shape, { requiresGrad: opts.requiresGrad });
}

/**
 * Normal values with the given mean and std (default 0, 1); seeded by manualSeed.
 *
 * @example
 * manualSeed(0);
 * const w = randn([784, 10], { std: 0.01, requiresGrad: true }); // or randn(784, 10, { … })
 */
export function randn(...args: ShapeArgs<RandomOptions & { mean?: number; std?: number }>): Tensor {
  const [shape, opts] = parseShapeArgs<RandomOptions & { mean?: number; std?: number }>('randn', args);
  const g = opts.generator ?? defaultGenerator;
  const mean = opts.mean ?? 0;
  const std = opts.std ?? 1;
  const data = new Float32Array(numel(shape));
  for (let i = 0; i < data.length; i++) data[i] = mean + std * g.normal();
  return tensor(data, shape, { requiresGrad: opts.requiresGrad });
}

/**
 * start, start+step, ... < end, as torch.arange: int32 when start, end and step are all integers
 * (PyTorch: int64), float32 otherwise; `opts.dtype` overrides.
 *
 * @example
 * arange(4);          // Int32Array [0, 1, 2, 3]
 * arange(1, 2, 0.25); // [1, 1.25, 1.5, 1.75]
 * arange(4, undefined, 1, { dtype: 'float32' }); // [0, 1, 2, 3] as float32
 */
export function arange(start: number, end?: number, step = 1, opts: { dtype?: DType } = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (step === 0) throw new Error('arange: step must be non-zero');
  const n = Math.max(0, Math.ceil((end - start) / step));
  const dtype = opts.dtype ?? ([start, end, step].every(Number.isInteger) ? 'int32' : 'float32');
  const data = dtype === 'int32' ? new Int32Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return tensor(data, [n], { dtype });
}

/**
 * Integers drawn uniformly from [low, high), int32, as torch.randint(low, high, size); seeded by
 * manualSeed or `generator`.
 *
 * @example
 * const labels = randint(0, 10, [128]); // int32 class labels
 */
export function randint(low: number, high: number, size: readonly number[], opts: { generator?: Generator } = {}): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low || low < -(2 ** 31) || high > 2 ** 31) {
    throw new Error(`randint: needs integers low < high within int32, got low ${low}, high ${high}`);
  }
  const g = opts.generator ?? defaultGenerator;
  const data = new Int32Array(numel(size));
  for (let i = 0; i < data.length; i++) data[i] = low + g.int(high - low);
  return tensor(data, size, { dtype: 'int32' });
}

/**
 * A random permutation of 0 … n−1, int32, as torch.randperm(n); seeded by manualSeed or `generator`.
 *
 * @example
 * const order = randperm(5); // e.g. Int32Array [3, 0, 4, 1, 2]
 */
export function randperm(n: number, opts: { generator?: Generator } = {}): Tensor {
  if (!Number.isInteger(n) || n < 0 || n >= 2 ** 31) throw new Error(`randperm: n must be a non-negative int32, got ${n}`);
  return tensor((opts.generator ?? defaultGenerator).permutation(n), [n], { dtype: 'int32' });
}

/** An n × m matrix (m = n by default) with ones on the diagonal, as torch.eye. @example eye(2) // [[1, 0], [0, 1]] */
export function eye(n: number, m = n, opts: { requiresGrad?: boolean } = {}): Tensor {
  if (!Number.isInteger(n) || !Number.isInteger(m) || n < 0 || m < 0)
    throw new Error(`eye: sizes must be non-negative integers, got ${n} and ${m}`);
  const data = new Float32Array(n * m);
  for (let i = 0; i < Math.min(n, m); i++) data[i * m + i] = 1;
  return tensor(data, [n, m], opts);
}

/**
 * `steps` evenly spaced values from start to end inclusive, as torch.linspace (the first half
 * counted from start, the second from end, so both ends are exact).
 *
 * @example linspace(0, 1, 5) // [0, 0.25, 0.5, 0.75, 1]
 */
export function linspace(start: number, end: number, steps: number, opts: { requiresGrad?: boolean } = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0) throw new Error(`linspace: steps must be a non-negative integer, got ${steps}`);
  const step = steps > 1 ? (end - start) / (steps - 1) : 0;
  const half = Math.floor(steps / 2);
  const data = Float32Array.from({ length: steps }, (_, i) => (i < half ? start + i * step : end - (steps - 1 - i) * step));
  return tensor(data, [steps], opts);
}
