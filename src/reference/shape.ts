/**
 * Shape and indexing reference ops: reshape, permute, expand, slice,
 * contiguous, pad2d, concat, stack, indexSelect, gather. All return fresh
 * contiguous data.
 */
import {
  type RefTensor,
  broadcastTo,
  checkIndex,
  checkShape,
  checkTensor,
  fmt,
  normDim,
  numel,
  offsetOf,
  refFromFn,
  stridesOf,
  unravel,
} from './tensor.ts';

/** Same data, new shape; at most one entry may be -1 (inferred). */
export function reshape(x: RefTensor, attrs: { shape: readonly number[] }): RefTensor {
  checkTensor('reshape', x);
  const target = attrs?.shape;
  if (!Array.isArray(target)) throw new Error(`reshape: attribute 'shape' must be an array`);
  const shape = [...target];
  const inferAt = shape.indexOf(-1);
  if (inferAt !== -1 && shape.lastIndexOf(-1) !== inferAt) {
    throw new Error(`reshape: only one dim may be -1, got ${fmt(target)}`);
  }
  if (inferAt !== -1) {
    const known = numel(shape.filter((_, i) => i !== inferAt));
    if (known === 0 || x.data.length % known !== 0) {
      throw new Error(`reshape: cannot reshape ${fmt(x.shape)} to ${fmt(target)}`);
    }
    shape[inferAt] = x.data.length / known;
  }
  checkShape('reshape', shape);
  if (numel(shape) !== x.data.length) {
    throw new Error(`reshape: cannot reshape ${fmt(x.shape)} (${x.data.length} elements) to ${fmt(target)}`);
  }
  return { data: Float64Array.from(x.data), shape };
}

/** out.shape[i] = x.shape[dims[i]]. */
export function permute(x: RefTensor, attrs: { dims: readonly number[] }): RefTensor {
  checkTensor('permute', x);
  const rank = x.shape.length;
  const dims = attrs?.dims;
  if (!Array.isArray(dims) || dims.length !== rank) {
    throw new Error(`permute: dims ${JSON.stringify(dims)} must list ${rank} dims for shape ${fmt(x.shape)}`);
  }
  const perm = dims.map((d) => normDim('permute', d, rank));
  if (new Set(perm).size !== rank) throw new Error(`permute: dims ${JSON.stringify(dims)} is not a permutation`);
  const shape = perm.map((d) => x.shape[d]);
  const xStrides = stridesOf(x.shape);
  const strides = perm.map((d) => xStrides[d]); // x strides seen in output order
  return refFromFn(shape, (i) => x.data[offsetOf(unravel(i, shape), strides)]);
}

/** NumPy-style broadcast to `shape`: new leading dims allowed, size-1 dims repeat, -1 keeps a dim. */
export function expand(x: RefTensor, attrs: { shape: readonly number[] }): RefTensor {
  checkTensor('expand', x);
  const target = attrs?.shape;
  if (!Array.isArray(target)) throw new Error(`expand: attribute 'shape' must be an array`);
  const lead = target.length - x.shape.length;
  const shape = target.map((d, i) => (d === -1 && i >= lead ? x.shape[i - lead] : d));
  checkShape('expand', shape);
  return broadcastTo(x, shape, 'expand');
}

/** Elements start, start+step, … (< end) along `dim`. */
export function slice(x: RefTensor, attrs: { dim: number; start: number; end: number; step?: number }): RefTensor {
  checkTensor('slice', x);
  const dim = normDim('slice', attrs?.dim, x.shape.length);
  const { start, end } = attrs;
  const step = attrs.step ?? 1;
  const size = x.shape[dim];
  if (![start, end, step].every(Number.isInteger) || step < 1 || start < 0 || end > size) {
    throw new Error(
      `slice: start ${start}, end ${end}, step ${step} invalid for dim ${dim} of shape ${fmt(x.shape)} ` +
        `(need 0 <= start, end <= ${size}, integer step >= 1)`,
    );
  }
  const shape = [...x.shape];
  shape[dim] = Math.max(0, Math.ceil((end - start) / step));
  const xStrides = stridesOf(x.shape);
  return refFromFn(shape, (i) => {
    const idx = unravel(i, shape);
    idx[dim] = start + idx[dim] * step;
    return x.data[offsetOf(idx, xStrides)];
  });
}

/** Identity (reference tensors are always contiguous); returns a copy. */
export function contiguous(x: RefTensor): RefTensor {
  checkTensor('contiguous', x);
  return { data: Float64Array.from(x.data), shape: [...x.shape] };
}

/** Pads the last two dims by [top, bottom, left, right] with `value` (default 0). */
export function pad2d(x: RefTensor, attrs: { padding: readonly number[]; value?: number }): RefTensor {
  checkTensor('pad2d', x);
  const p = attrs?.padding;
  if (!Array.isArray(p) || p.length !== 4 || p.some((v) => !Number.isInteger(v) || v < 0)) {
    throw new Error(`pad2d: padding must be 4 non-negative integers [top,bottom,left,right], got ${JSON.stringify(p)}`);
  }
  const rank = x.shape.length;
  if (rank < 2) throw new Error(`pad2d: input must have rank >= 2, got shape ${fmt(x.shape)}`);
  const [top, bottom, left, right] = p;
  const value = attrs.value ?? 0;
  const [h, w] = [x.shape[rank - 2], x.shape[rank - 1]];
  const shape = [...x.shape.slice(0, -2), h + top + bottom, w + left + right];
  const xStrides = stridesOf(x.shape);
  return refFromFn(shape, (i) => {
    const idx = unravel(i, shape);
    idx[rank - 2] -= top;
    idx[rank - 1] -= left;
    const inside = idx[rank - 2] >= 0 && idx[rank - 2] < h && idx[rank - 1] >= 0 && idx[rank - 1] < w;
    return inside ? x.data[offsetOf(idx, xStrides)] : value;
  });
}

/** Joins tensors along an existing dim; all other dims must match. */
export function concat(inputs: readonly RefTensor[], attrs: { dim: number }): RefTensor {
  if (inputs.length === 0) throw new Error('concat: needs at least one input');
  inputs.forEach((t, k) => checkTensor('concat', t, `input ${k}`));
  const first = inputs[0].shape;
  if (first.length === 0) throw new Error('concat: cannot concatenate rank-0 tensors (use stack)');
  const dim = normDim('concat', attrs?.dim, first.length);
  for (const t of inputs) {
    const ok = t.shape.length === first.length && t.shape.every((d, i) => i === dim || d === first[i]);
    if (!ok) {
      throw new Error(`concat: shapes ${inputs.map((u) => fmt(u.shape)).join(', ')} differ outside dim ${dim}`);
    }
  }
  const outer = numel(first.slice(0, dim));
  const inner = numel(first.slice(dim + 1));
  const shape = [...first];
  shape[dim] = inputs.reduce((s, t) => s + t.shape[dim], 0);
  const data = new Float64Array(numel(shape));
  let k = 0;
  for (let o = 0; o < outer; o++) {
    for (const t of inputs) {
      const block = t.shape[dim] * inner; // contiguous run of t for this outer index
      data.set(t.data.subarray(o * block, (o + 1) * block), k);
      k += block;
    }
  }
  return { data, shape };
}

/** Joins equally shaped tensors along a new dim (0 <= dim <= rank). */
export function stack(inputs: readonly RefTensor[], attrs: { dim: number }): RefTensor {
  if (inputs.length === 0) throw new Error('stack: needs at least one input');
  inputs.forEach((t, k) => checkTensor('stack', t, `input ${k}`));
  const first = inputs[0].shape;
  if (inputs.some((t) => fmt(t.shape) !== fmt(first))) {
    throw new Error(`stack: all shapes must be equal, got ${inputs.map((t) => fmt(t.shape)).join(', ')}`);
  }
  const dim = normDim('stack', attrs?.dim, first.length + 1);
  const unsqueezed = inputs.map((t) => ({ data: t.data, shape: [...first.slice(0, dim), 1, ...first.slice(dim)] }));
  return concat(unsqueezed, { dim });
}

/** Picks entries `index` (1-D, integer-valued) along `dim`. */
export function indexSelect(x: RefTensor, index: RefTensor, attrs: { dim: number }): RefTensor {
  checkTensor('indexSelect', x);
  checkTensor('indexSelect', index, 'index');
  if (index.shape.length !== 1) throw new Error(`indexSelect: index must be 1-D, got shape ${fmt(index.shape)}`);
  if (x.shape.length === 0) throw new Error('indexSelect: input must have rank >= 1, got shape []');
  const dim = normDim('indexSelect', attrs?.dim, x.shape.length);
  index.data.forEach((v, j) => checkIndex('indexSelect', v, x.shape[dim], `position ${j}`));
  const shape = [...x.shape];
  shape[dim] = index.data.length;
  const xStrides = stridesOf(x.shape);
  return refFromFn(shape, (i) => {
    const idx = unravel(i, shape);
    idx[dim] = index.data[idx[dim]];
    return x.data[offsetOf(idx, xStrides)];
  });
}

/** torch.Tensor.scatter_add: x with src[..j..] added at x[..index[..j..]..] along dim; index has src's shape. */
export function scatterAdd(x: RefTensor, index: RefTensor, src: RefTensor, attrs: { dim: number }): RefTensor {
  checkTensor('scatterAdd', x);
  checkTensor('scatterAdd', index, 'index');
  checkTensor('scatterAdd', src, 'src');
  const rank = x.shape.length;
  const dim = normDim('scatterAdd', attrs?.dim, Math.max(rank, 1));
  if (index.shape.length !== rank || index.shape.some((d, i) => d !== src.shape[i] || (i !== dim && d > x.shape[i]))) {
    throw new Error(
      `scatterAdd: index ${fmt(index.shape)} must have src's shape ${fmt(src.shape)} and fit ${fmt(x.shape)} outside dim ${dim}`,
    );
  }
  const data = Float64Array.from(x.data);
  const xStrides = stridesOf(x.shape);
  for (let i = 0; i < index.data.length; i++) {
    const idx = unravel(i, index.shape);
    idx[dim] = checkIndex('scatterAdd', index.data[i], x.shape[dim], `index position ${fmt(unravel(i, index.shape))}`);
    data[offsetOf(idx, xStrides)] += src.data[i];
  }
  return { data, shape: [...x.shape] };
}

/** torch.gather: out[i][j] = x[index[i][j]][j] for dim 0 (etc.); out.shape = index.shape. */
export function gather(x: RefTensor, index: RefTensor, attrs: { dim: number }): RefTensor {
  checkTensor('gather', x);
  checkTensor('gather', index, 'index');
  const rank = x.shape.length;
  const dim = normDim('gather', attrs?.dim, Math.max(rank, 1));
  const ok = index.shape.length === rank && index.shape.every((d, i) => i === dim || d <= x.shape[i]);
  if (!ok) {
    throw new Error(`gather: index shape ${fmt(index.shape)} must have rank ${rank} and be <= ${fmt(x.shape)} outside dim ${dim}`);
  }
  const xStrides = stridesOf(x.shape);
  const size = rank === 0 ? 1 : x.shape[dim];
  return refFromFn(index.shape, (i) => {
    const idx = unravel(i, index.shape);
    const v = checkIndex('gather', index.data[i], size, `index position ${fmt(idx)}`);
    if (rank > 0) idx[dim] = v;
    return x.data[offsetOf(idx, xStrides)];
  });
}
