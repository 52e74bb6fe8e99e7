/**
 * RefTensor: the float64 CPU reference's data type, plus the small shape
 * helpers every reference op uses (sizes, strides, broadcasting, dim checks).
 *
 * A RefTensor is always contiguous and row-major. Reference ops never mutate
 * their inputs and always return tensors with freshly allocated data, so a
 * caller (e.g. gradcheck perturbing an input in place) can never see aliasing.
 */

export interface RefTensor {
  readonly data: Float64Array;
  readonly shape: readonly number[];
}

/** `[2,3]` — how shapes are written in error messages. */
export function fmt(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** Number of elements of a shape (1 for rank 0). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides, in elements. */
export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** Throws unless every entry of `shape` is a non-negative integer. */
export function checkShape(op: string, shape: readonly number[]): void {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`${op}: invalid shape ${JSON.stringify(shape)} (entries must be non-negative integers)`);
  }
}

/** Builds a RefTensor, copying `data`; throws if its length does not match the shape. */
export function refTensor(data: ArrayLike<number>, shape: readonly number[]): RefTensor {
  checkShape('refTensor', shape);
  if (data.length !== numel(shape)) {
    throw new Error(`refTensor: data has ${data.length} elements but shape ${fmt(shape)} needs ${numel(shape)}`);
  }
  return { data: Float64Array.from(data), shape: [...shape] };
}

/** A tensor of `shape` whose element at flat index i is fn(i). */
export function refFromFn(shape: readonly number[], fn: (i: number) => number): RefTensor {
  checkShape('refFromFn', shape);
  const data = new Float64Array(numel(shape));
  for (let i = 0; i < data.length; i++) data[i] = fn(i);
  return { data, shape: [...shape] };
}

/** Throws unless `t` looks like a well-formed RefTensor. */
export function checkTensor(op: string, t: RefTensor | undefined, what = 'input'): asserts t is RefTensor {
  if (t == null || !(t.data instanceof Float64Array) || !Array.isArray(t.shape)) {
    throw new Error(`${op}: ${what} is not a RefTensor`);
  }
  checkShape(op, t.shape);
  if (t.data.length !== numel(t.shape)) {
    throw new Error(`${op}: ${what} has ${t.data.length} elements but shape ${fmt(t.shape)}`);
  }
}

/** NumPy broadcasting of two shapes (align right; sizes must match or be 1). */
export function broadcastShapes(a: readonly number[], b: readonly number[], op = 'broadcastShapes'): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${op}: shapes ${fmt(a)} and ${fmt(b)} cannot broadcast`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Splits flat index `flat` into a multi-index for `shape`. */
export function unravel(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    idx[i] = flat % shape[i];
    flat = Math.floor(flat / shape[i]);
  }
  return idx;
}

/** Dot product of a multi-index with strides: the flat offset. */
export function offsetOf(idx: readonly number[], strides: readonly number[]): number {
  let o = 0;
  for (let i = 0; i < idx.length; i++) o += idx[i] * strides[i];
  return o;
}

/**
 * Materialises `t` broadcast to `shape` (NumPy rules: `shape` may add leading
 * dims; a size-1 dim of `t` repeats). Throws, naming `op`, if not possible.
 */
export function broadcastTo(t: RefTensor, shape: readonly number[], op = 'broadcastTo'): RefTensor {
  const lead = shape.length - t.shape.length;
  const ok = lead >= 0 && t.shape.every((d, i) => d === shape[lead + i] || d === 1);
  if (!ok) throw new Error(`${op}: shape ${fmt(t.shape)} cannot broadcast to ${fmt(shape)}`);
  // Strides of t aligned to `shape`: 0 for new leading dims and for expanded size-1 dims.
  const tStrides = stridesOf(t.shape);
  const strides = shape.map((d, i) => (i < lead || t.shape[i - lead] !== d ? 0 : tStrides[i - lead]));
  return refFromFn(shape, (i) => t.data[offsetOf(unravel(i, shape), strides)]);
}

/** Normalises a possibly negative dim against `rank`; throws if out of range. */
export function normDim(op: string, dim: number, rank: number): number {
  if (!Number.isInteger(dim) || dim < -rank || dim >= rank) {
    throw new Error(`${op}: dim ${dim} is out of range for a tensor of rank ${rank}`);
  }
  return dim < 0 ? dim + rank : dim;
}

/** Normalises a list of dims (empty list = all dims); throws on duplicates. */
export function normDims(op: string, dims: readonly number[] | undefined, rank: number): number[] {
  if (dims === undefined || dims.length === 0) return [...Array(rank).keys()];
  const out = dims.map((d) => normDim(op, d, rank));
  if (new Set(out).size !== out.length) throw new Error(`${op}: repeated dim in ${JSON.stringify(dims)}`);
  return out.sort((a, b) => a - b);
}

/** Throws unless `v` is an integer-valued number in [0, size). Used for index tensors. */
export function checkIndex(op: string, v: number, size: number, where: string): number {
  if (!Number.isInteger(v) || v < 0 || v >= size) {
    throw new Error(`${op}: index ${v} at ${where} is not an integer in [0, ${size})`);
  }
  return v;
}

/** Throws unless `pair` is an array of two integers ≥ min. */
export function checkPair(op: string, name: string, pair: readonly number[] | undefined, min: number): [number, number] {
  if (!Array.isArray(pair) || pair.length !== 2 || pair.some((v) => !Number.isInteger(v) || v < min)) {
    throw new Error(`${op}: ${name} must be two integers >= ${min}, got ${JSON.stringify(pair)}`);
  }
  return [pair[0], pair[1]];
}
