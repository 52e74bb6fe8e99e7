// Shape ops. Most are views: a new Tensor over the same storage with other shape/strides/offset
// (reshape of a contiguous tensor, permute/transpose, expand, squeeze/unsqueeze, slice). Kernels
// read strided views directly, so a transposed operand costs no copy. `contiguous`, `concat`,
// `indexSelect` and `gather` copy, through `map` (src/ops/map.ts) and kernels/gather.wgsl.

import { promote } from '../dtype.ts';
import { Tensor } from '../tensor.ts';
import { record } from '../autograd/graph.ts';
import { fmt, normalizeDim, numel, stridesOf, sameShape } from '../shape.ts';
import { map, mapInto } from './map.ts';
import { UniformLayout } from '../device/uniform-layout.ts';
import { grid } from './grid.ts';
import { fromArray, fill } from './creation-internal.ts';
import { sumTo } from './reduce.ts';

/** Slicing, joining and indexing need a dim to work along: rank 0 is refused clearly. */
function needsRank1(op: string, x: Tensor): void {
  if (x.ndim === 0) throw new Error(`${op}: needs a tensor of rank >= 1, got a rank-0 tensor (shape []); reshape it to [1] first`);
}

function view(x: Tensor, shape: readonly number[], strides: readonly number[], offset: number): Tensor {
  x.assertAlive('view');
  return new Tensor(x.storage, shape, strides, offset);
}

/** A view of a contiguous tensor with another shape; no autograd (internal use). */
export function viewAs(x: Tensor, shape: readonly number[]): Tensor {
  if (!x.isContiguous) throw new Error('wgrad internal: viewAs needs a contiguous tensor');
  return view(x, shape, stridesOf(shape), x.offset);
}

function resolveShape(op: string, x: Tensor, shape: readonly number[]): number[] {
  const out = [...shape];
  const free = out.indexOf(-1);
  if (out.indexOf(-1, free + 1) !== -1) throw new Error(`${op}: only one dimension can be -1 (got ${fmt(shape)})`);
  const known = numel(out.filter((d) => d !== -1));
  if (free >= 0) {
    if (known === 0 || x.size % known !== 0)
      throw new Error(`${op}: cannot reshape ${fmt(x.shape)} (${x.size} elements) into ${fmt(shape)}`);
    out[free] = x.size / known;
  }
  if (numel(out) !== x.size || out.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`${op}: cannot reshape ${fmt(x.shape)} (${x.size} elements) into ${fmt(shape)} (${numel(out)} elements)`);
  }
  return out;
}

/** Same values, new shape (one dim may be -1). A view when x is contiguous, else a copy. @example reshape(arange(6), [2, -1]) // [[0, 1, 2], [3, 4, 5]] */
export function reshape(x: Tensor, shapeArg: readonly number[]): Tensor {
  const shape = resolveShape('reshape', x, shapeArg);
  if (sameShape(shape, x.shape)) return x;
  const src = x.isContiguous ? x : map([x], 'x0', 'contiguous', 0, 0, undefined, { compute: x.dtype });
  const out = view(src, shape, stridesOf(shape), src.offset);
  if (src !== x) src.dispose();
  return record(out, 'reshape', [x], { shape }, (g) => [reshape(g, x.shape)]);
}

/** Reorders the dims (a view: no copy). @example permute(randn([2, 3, 4]), [2, 0, 1]).shape // [4, 2, 3] */
export function permute(x: Tensor, dimsArg: readonly number[]): Tensor {
  const dims = dimsArg.map((d) => normalizeDim('permute', d, x.ndim));
  if (dims.length !== x.ndim || new Set(dims).size !== dims.length) {
    throw new Error(`permute: dims [${dimsArg.join(', ')}] must be a permutation of 0..${x.ndim - 1} for shape ${fmt(x.shape)}`);
  }
  const out = view(
    x,
    dims.map((d) => x.shape[d]),
    dims.map((d) => x.strides[d]),
    x.offset,
  );
  const inverse = dims.map((_, i) => dims.indexOf(i));
  return record(out, 'permute', [x], { dims }, (g) => [permute(g, inverse)]);
}

/** Swaps two dims (a view). @example transpose(tensor([[1, 2, 3]]), 0, 1) // [[1], [2], [3]] */
export function transpose(x: Tensor, d0: number, d1: number): Tensor {
  if (x.ndim < 2) return x;
  const a = normalizeDim('transpose', d0, x.ndim);
  const b = normalizeDim('transpose', d1, x.ndim);
  const dims = [...Array(x.ndim).keys()];
  [dims[a], dims[b]] = [dims[b], dims[a]];
  return permute(x, dims);
}

/** Broadcasts size-1 dims (and new leading dims) to `shape` without copying (-1 keeps a dim). @example expand(tensor([[1], [2]]), [2, 3]) // [[1, 1, 1], [2, 2, 2]] */
export function expand(x: Tensor, shapeArg: readonly number[]): Tensor {
  const lead = shapeArg.length - x.ndim;
  if (lead < 0) throw new Error(`expand: target ${fmt(shapeArg)} has fewer dims than the tensor ${fmt(x.shape)}`);
  const shape = shapeArg.map((d, i) => (d === -1 && i >= lead ? x.shape[i - lead] : d));
  const strides = shape.map((d, i) => {
    if (i < lead) return 0;
    const own = x.shape[i - lead];
    if (own === d) return x.strides[i - lead];
    if (own === 1) return 0;
    throw new Error(`expand: cannot expand ${fmt(x.shape)} to ${fmt(shapeArg)} (dim ${i} is ${own}, only size-1 dims expand)`);
  });
  if (sameShape(shape, x.shape)) return x;
  const out = view(x, shape, strides, x.offset);
  return record(out, 'expand', [x], { shape }, (g) => [sumTo(g, x.shape)]);
}

/** Drops size-1 dims (all of them, or only `dim`). @example squeeze(zeros([1, 3, 1])).shape // [3] */
export function squeeze(x: Tensor, dim?: number): Tensor {
  if (dim === undefined)
    return reshape(
      x,
      x.shape.filter((d) => d !== 1),
    );
  const d = normalizeDim('squeeze', dim, x.ndim);
  if (x.shape[d] !== 1) return x;
  return reshape(
    x,
    x.shape.filter((_, i) => i !== d),
  );
}

/** Inserts a size-1 dim at `dim`. @example unsqueeze(tensor([1, 2]), 1).shape // [2, 1] */
export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normalizeDim('unsqueeze', dim, x.ndim + 1);
  const shape = [...x.shape];
  shape.splice(d, 0, 1);
  return reshape(x, shape);
}

/** Merges dims startDim..endDim (inclusive) into one. @example flatten(zeros([8, 1, 28, 28]), 1).shape // [8, 784] */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normalizeDim('flatten', startDim, x.ndim);
  const e = normalizeDim('flatten', endDim, x.ndim);
  return reshape(x, [...x.shape.slice(0, s), numel(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
}

/**
 * The padded layout of a 4-D view: [Hp, Wp] when t is the top-left [H, W] crop of a contiguous
 * [N, C, Hp, Wp] block (Wp % 4 = 0, offset % 4 = 0, the whole block inside the storage), as
 * conv2d returns its outputs and input gradients; else null. Kernels that read such a view as
 * whole vec4 rows (batch norm) or write their result in the same layout (max pooling's backward)
 * use it.
 */
export function paddedPlanes(t: Tensor): [number, number] | null {
  if (t.ndim !== 4 || t.isContiguous) return null;
  const [n, c, h, w] = t.shape;
  const [sn, sc, sh, sw] = t.strides;
  if (sw !== 1 || sh % 4 !== 0 || sh < w || sc % sh !== 0 || sc / sh < h || sn !== c * sc || t.offset % 4 !== 0) return null;
  if (t.offset + n * sn > t.storage.numel) return null;
  return [sc / sh, sh];
}

/** A contiguous copy (or x itself if already contiguous, unless `force`). @example contiguous(randn([3, 4]).transpose(0, 1)).isContiguous // true */
export function contiguous(x: Tensor, force = false): Tensor {
  x.assertAlive('contiguous');
  if (x.isContiguous && !force) return x;
  const out = map([x], 'x0', 'contiguous', 0, 0, undefined, { compute: x.dtype });
  return record(out, 'contiguous', [x], {}, (g) => [g]);
}

/** A contiguous copy that owns new storage (differentiable). @example const w = randn([3]); const snapshot = clone(w); // not a view of w */
export const clone = (x: Tensor) => contiguous(x, true);

/** Elements start, start+step, ... < end along dim (negative start/end count from the end). A view. @example slice(arange(10), 0, 2, -2, 3) // [2, 5] */
export function slice(x: Tensor, dimArg: number, startArg = 0, endArg?: number, step = 1): Tensor {
  needsRank1('slice', x);
  const dim = normalizeDim('slice', dimArg, x.ndim);
  const n = x.shape[dim];
  if (!Number.isInteger(step) || step < 1) throw new Error(`slice: step must be a positive integer (got ${step})`);
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
  const start = clamp(startArg);
  const end = Math.max(start, clamp(endArg ?? n));
  const shape = [...x.shape];
  shape[dim] = Math.ceil((end - start) / step);
  const strides = [...x.strides];
  strides[dim] *= step;
  const out = view(x, shape, strides, x.offset + start * x.strides[dim]);
  return record(out, 'slice', [x], { dim, start, end, step }, (g) => {
    const gx = fill(x.shape, 0);
    const target = slice(gx, dim, start, end, step);
    mapInto(target, [g], 'x0', 'slice.backward');
    target.dispose();
    return [gx];
  });
}

/** Joins tensors along an existing dim. @example concat([zeros([2, 3]), ones([1, 3])], 0).shape // [3, 3] */
export function concat(tensors: Tensor[], dimArg = 0): Tensor {
  if (tensors.length === 0) throw new Error('concat: needs at least one tensor');
  const first = tensors[0];
  needsRank1('concat', first);
  const dim = normalizeDim('concat', dimArg, first.ndim);
  for (const t of tensors) {
    if (t.ndim !== first.ndim || t.shape.some((d, i) => i !== dim && d !== first.shape[i])) {
      throw new Error(`concat: shapes ${tensors.map((x) => fmt(x.shape)).join(', ')} differ outside dim ${dim}`);
    }
  }
  const shape = [...first.shape];
  shape[dim] = tensors.reduce((s, t) => s + t.shape[dim], 0);
  const out = Tensor.empty(shape, first.device, promote(...tensors.map((t) => t.dtype)));
  let at = 0;
  const starts: number[] = [];
  for (const t of tensors) {
    starts.push(at);
    const target = slice(out, dim, at, at + t.shape[dim]);
    mapInto(target, [t], 'x0', 'concat', 0, 0, out.dtype);
    target.dispose();
    at += t.shape[dim];
  }
  return record(out, 'concat', tensors, { dim }, (g) =>
    tensors.map((t, i) => contiguous(slice(g, dim, starts[i], starts[i] + t.shape[dim]))),
  );
}
/** Alias of concat (torch.cat). @example cat([tensor([1]), tensor([2, 3])]) // [1, 2, 3] */
export const cat = concat;

/** Joins tensors of the same shape along a new dim. @example stack([tensor([1, 2]), tensor([3, 4])], 1) // [[1, 3], [2, 4]] */
export function stack(tensors: Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new Error('stack: needs at least one tensor');
  const d = normalizeDim('stack', dim, tensors[0].ndim + 1);
  for (const t of tensors)
    if (!sameShape(t.shape, tensors[0].shape))
      throw new Error(`stack: shapes ${tensors.map((x) => fmt(x.shape)).join(', ')} must all be equal`);
  return concat(
    tensors.map((t) => unsqueeze(t, d)),
    d,
  );
}

// ---- gather / indexSelect (kernels/gather.wgsl, backward kernels/scatter_add.wgsl) ----------
// Both see x as [outer, n, inner] around `dim` and an index with strides (so, sj, si) over
// [outer, m, inner]: indexSelect uses (0, 1, 0), gather the index's own layout.

/**
 * An int32 index tensor: host arrays are checked (integers in 0..size−1) and uploaded; tensors
 * must be int32 already (a float index could hold 2.5 or lose integers above 2^24). The values of
 * an index tensor are not read back (that would wait for the GPU): out-of-range ones read NaN.
 */
export function asIndex(op: string, index: Tensor | ArrayLike<number>, size: number): Tensor {
  if (index instanceof Tensor) {
    index.assertAlive(`${op} (index)`);
    if (index.dtype !== 'int32')
      throw new Error(
        `${op}: index tensors must be int32, got ${index.dtype} (shape ${fmt(index.shape)}); convert with .int() or build it with { dtype: 'int32' }`,
      );
    return index;
  }
  for (let i = 0; i < index.length; i++) {
    const v = index[i];
    if (!Number.isInteger(v) || v < 0 || v >= size)
      throw new Error(`${op}: index ${v} at position ${i} is out of range; valid indices are integers in 0..${size - 1}`);
  }
  return fromArray(index, [index.length], 'int32');
}

// prettier-ignore
const gatherLayout = new UniformLayout(['gather'], {
  outer: 'u32', n: 'u32', inner: 'u32', m: 'u32', so: 'u32', sj: 'u32', si: 'u32',
  x_offset: 'u32', idx_offset: 'u32', total: 'u32', nan: 'f32',
});

function gatherLaunch(
  label: string,
  x: Tensor,
  dim: number,
  index: Tensor,
  m: number,
  idxStrides: [number, number, number],
  outShape: number[],
): Tensor {
  x.assertAlive(label);
  index.assertAlive(`${label} (index)`);
  const xc = contiguous(x);
  const ic = contiguous(index);
  const outer = numel(x.shape.slice(0, dim));
  const inner = numel(x.shape.slice(dim + 1));
  const out = Tensor.empty(outShape, x.device, x.dtype);
  const total = outer * m * inner;
  if (total > 0) {
    const [so, sj, si] = idxStrides;
    const u = gatherLayout.pack({
      outer,
      n: x.shape[dim],
      inner,
      m,
      so,
      sj,
      si,
      x_offset: xc.offset,
      idx_offset: ic.offset,
      total,
      nan: NaN,
    });
    x.device.dispatch({
      kernel: 'gather',
      buffers: [xc.storage.buffer, ic.storage.buffer, out.storage.buffer],
      access: 'rrw',
      ints: true,
      uniforms: u,
      workgroups: grid(Math.ceil(total / 64)),
      label,
      params: x.dtype === 'int32' ? { WG: 64, T: 'i32', OUT_OF_RANGE: '0' } : { WG: 64, T: 'f32', OUT_OF_RANGE: 'p.nan' },
    });
  }
  if (xc !== x) xc.dispose();
  if (ic !== index) ic.dispose();
  return out;
}

// prettier-ignore
const scatterLayout = new UniformLayout(['scatter_add'], {
  outer: 'u32', n: 'u32', inner: 'u32', m: 'u32', so: 'u32', sj: 'u32', si: 'u32', g_offset: 'u32', idx_offset: 'u32', total: 'u32',
});

export function scatterAddLaunch(
  label: string,
  g: Tensor,
  xShape: readonly number[],
  dim: number,
  index: Tensor,
  m: number,
  idxStrides: [number, number, number],
): Tensor {
  g.assertAlive(label);
  index.assertAlive(`${label} (index)`);
  const gc = contiguous(g);
  const ic = contiguous(index);
  const outer = numel(xShape.slice(0, dim));
  const inner = numel(xShape.slice(dim + 1));
  const out = Tensor.empty(xShape, g.device);
  const total = numel(xShape);
  if (total > 0) {
    const [so, sj, si] = idxStrides;
    const u = scatterLayout.pack({ outer, n: xShape[dim], inner, m, so, sj, si, g_offset: gc.offset, idx_offset: ic.offset, total });
    g.device.dispatch({
      kernel: 'scatter_add',
      buffers: [gc.storage.buffer, ic.storage.buffer, out.storage.buffer],
      access: 'rrw',
      ints: true,
      uniforms: u,
      workgroups: grid(Math.ceil(total / 64)),
      label,
      params: { WG: 64 },
    });
  }
  if (gc !== g) gc.dispose();
  if (ic !== index) ic.dispose();
  return out;
}

/**
 * Rows (or slices along dim) of x picked by a 1-D int32 index (a tensor or a host array, checked on the host); out-of-range values in an index tensor read NaN (which anomaly detection reports).
 *
 * @example
 * indexSelect(tensor([[1, 2], [3, 4], [5, 6]]), 0, [2, 0]); // [[5, 6], [1, 2]]
 */
export function indexSelect(x: Tensor, dimArg: number, indexArg: Tensor | ArrayLike<number>): Tensor {
  needsRank1('indexSelect', x);
  const dim = normalizeDim('indexSelect', dimArg, x.ndim);
  const index = asIndex('indexSelect', indexArg, x.shape[dim]);
  if (index.ndim !== 1) throw new Error(`indexSelect: index must be 1-D (got shape ${fmt(index.shape)})`);
  const m = index.shape[0];
  const shape = [...x.shape];
  shape[dim] = m;
  const out = gatherLaunch('indexSelect', x, dim, index, m, [0, 1, 0], shape);
  record(out, 'indexSelect', [x, index], { dim }, (g) => [
    scatterAddLaunch('indexSelect.backward', g, x.shape, dim, index, m, [0, 1, 0]),
    null,
  ]);
  if (index !== indexArg && !out.node) index.dispose(); // uploaded here and not needed by a graph
  return out;
}

/**
 * torch.gather: out[..i..] = x[..index[..i..].. along dim]; index has x's shape except along dim.
 *
 * @example
 * gather(tensor([[1, 2], [3, 4]]), 1, tensor([[1], [0]], undefined, { dtype: 'int32' })); // [[2], [3]]
 */
export function gather(x: Tensor, dimArg: number, index: Tensor): Tensor {
  needsRank1('gather', x);
  const dim = normalizeDim('gather', dimArg, x.ndim);
  asIndex('gather', index, x.shape[dim]);
  if (index.ndim !== x.ndim || index.shape.some((d, i) => i !== dim && d !== x.shape[i])) {
    throw new Error(`gather: index shape ${fmt(index.shape)} must equal x's shape ${fmt(x.shape)} except along dim ${dim}`);
  }
  const m = index.shape[dim];
  const inner = numel(x.shape.slice(dim + 1));
  const strides: [number, number, number] = [m * inner, inner, 1];
  const out = gatherLaunch('gather', x, dim, index, m, strides, [...index.shape]);
  return record(out, 'gather', [x, index], { dim }, (g) => [scatterAddLaunch('gather.backward', g, x.shape, dim, index, m, strides), null]);
}
