// Reductions over any set of dims with keepdim: sum, mean, max, min, var, argmax, argmin, and
// logsumexp (composed, stable). kernels/reduce.wgsl walks each output's reduction in one thread;
// reductions with few outputs and many inputs are first split into partial results so that
// more threads take part (one pass of partials, one pass to combine).

import { Tensor } from '../tensor.ts';
import { record } from '../autograd/graph.ts';
import { collapse, fmt, normalizeDim, normalizeDims, numel, padRank, sameShape } from '../shape.ts';
import { UniformLayout } from '../device/uniform-layout.ts';
import { decodeIndex } from './index-decode.ts';
import { grid } from './grid.ts';
import { map } from './map.ts';
import { expand, reshape, viewAs } from './shape.ts';
import { cachedParams, type KernelParams } from '../device/kernel-sources.ts';

const WG = 64;

type Kind = 'sum' | 'mean' | 'max' | 'min' | 'var' | 'argmax' | 'argmin' | 'logsumexp';

// Max/min start from the first element (WGSL has no infinity constant).
const FIRST = 'x[base + reduced_offset(0u)]';

// Passes over the reduction before the main one (each thread walks its own, in order).
const MEAN_PASS = 'var mean = 0.0; for (var j = 0u; j < count; j++) { mean += x[base + reduced_offset(j)]; } mean = mean / f32(count);';
// logsumexp's shift: the max, or 0 where it is ±inf (an all −inf row stays −inf, +inf gives +inf).
const MAX_PASS = `var shift = ${FIRST}; for (var j = 0u; j < count; j++) { shift = max(shift, x[base + reduced_offset(j)]); } shift = select(0.0, shift, abs(shift) < 3.0e38);`;

const KERNEL: Record<Kind, { INIT: string; STEP: string; FINISH: string; FIRST_PASS?: string }> = {
  sum: { INIT: 'var acc = 0.0;', STEP: 'acc += v;', FINISH: 'acc' },
  mean: { INIT: 'var acc = 0.0;', STEP: 'acc += v;', FINISH: 'acc / f32(count)' },
  max: { INIT: `var acc = ${FIRST};`, STEP: 'acc = max(acc, v);', FINISH: 'acc' },
  min: { INIT: `var acc = ${FIRST};`, STEP: 'acc = min(acc, v);', FINISH: 'acc' },
  var: {
    INIT: 'var acc = 0.0;',
    STEP: 'let dv = v - mean; acc += dv * dv;',
    FINISH: 'acc / (f32(count) - p.correction)',
    FIRST_PASS: MEAN_PASS,
  },
  // The same operations, in the same order, as max → exp(x − shift) → sum → log(s) + shift.
  logsumexp: { INIT: 'var acc = 0.0;', STEP: 'acc += exp(v - shift);', FINISH: 'log(acc) + shift', FIRST_PASS: MAX_PASS },
  argmax: { INIT: `var best = ${FIRST}; var idx = 0u;`, STEP: 'if (v > best) { best = v; idx = j; }', FINISH: 'i32(idx)' },
  argmin: { INIT: `var best = ${FIRST}; var idx = 0u;`, STEP: 'if (v < best) { best = v; idx = j; }', FINISH: 'i32(idx)' },
};

function outShape(shape: readonly number[], dims: number[], keepdim: boolean): number[] {
  return keepdim ? shape.map((d, i) => (dims.includes(i) ? 1 : d)) : shape.filter((_, i) => !dims.includes(i));
}

// Kernel parameters per (kind, kept rank, reduced rank), made once.
const paramsCache = new Map<string, KernelParams>();

/** WGSL adding to `acc` the offset of index `idx` over `rank` dims of the uniform arrays `shape`, `strides`. */
const offsetCode = (idx: string, rank: number, shape: string, strides: string, acc: string) =>
  decodeIndex(
    idx,
    rank,
    (d) => `${shape}[${d >> 2}][${d & 3}]`,
    (coord, d) => `${acc} += ${coord} * ${strides}[${d >> 2}][${d & 3}];`,
  );

// prettier-ignore
const reduceLayout = new UniformLayout(['reduce'], {
  kshape: 'array<vec4<u32>, 2>', kstrides: 'array<vec4<u32>, 2>', rshape: 'array<vec4<u32>, 2>', rstrides: 'array<vec4<u32>, 2>',
  offset: 'u32', numel: 'u32', count: 'u32', correction: 'f32',
});

/** Runs the reduce kernel: no autograd, no splitting. */
function launch(kind: Kind, x: Tensor, dims: number[], keepdim: boolean, correction = 0): Tensor {
  x.assertAlive(kind);
  if (x.dtype !== 'float32')
    throw new Error(`${kind}: takes a float32 tensor but was given ${x.dtype} (shape ${fmt(x.shape)}); convert it with .float() first`);
  const shape = outShape(x.shape, dims, keepdim);
  const isArg = kind === 'argmax' || kind === 'argmin';
  const out = Tensor.empty(shape, x.device, isArg ? 'int32' : 'float32');
  const keptAxes = x.shape.map((_, i) => i).filter((i) => !dims.includes(i));
  const kept = collapse(
    keptAxes.map((i) => x.shape[i]),
    [keptAxes.map((i) => x.strides[i])],
  );
  const red = collapse(
    dims.map((i) => x.shape[i]),
    [dims.map((i) => x.strides[i])],
  );
  const count = numel(dims.map((i) => x.shape[i]));
  const n = numel(shape);
  if (n === 0) return out;
  if (count === 0 && kind !== 'sum')
    throw new Error(`${kind}: cannot reduce over an empty dimension (input shape ${fmt(x.shape)}, dims [${dims.join(', ')}])`);
  if (kind === 'var' && count - correction <= 0)
    throw new Error(`var: ${count} value(s) per output is too few for correction ${correction}`);
  const rshape = red.shape.length ? red.shape : [1];
  const rstrides = red.strides[0].length ? red.strides[0] : [0];
  const u = reduceLayout.pack({
    kshape: padRank(kept.shape),
    kstrides: kept.strides[0],
    rshape: padRank(rshape),
    rstrides,
    offset: x.offset,
    numel: n,
    count,
    correction,
  });
  const k = KERNEL[kind];
  const [krank, rrank] = [kept.shape.length, rshape.length];
  x.device.dispatch({
    kernel: 'reduce',
    params: cachedParams(paramsCache, `${kind}|${krank}|${rrank}`, () => ({
      INIT: k.INIT,
      STEP: k.STEP,
      FINISH: k.FINISH,
      FIRST_PASS: k.FIRST_PASS ?? '',
      WG,
      OUT_T: isArg ? 'i32' : 'f32',
      KEPT_INDEX: offsetCode('i', krank, 'p.kshape', 'p.kstrides', 'base'),
      REDUCED_OFFSET: `var off = 0u;\n  ${offsetCode('j', rrank, 'p.rshape', 'p.rstrides', 'off')}\n  return off;`,
    })),
    buffers: [x.storage.buffer, out.storage.buffer],
    access: 'rw',
    uniforms: u,
    workgroups: grid(Math.ceil(n / WG)),
    label: kind,
    ints: isArg,
  });
  return out;
}

/**
 * sum/mean/max/min with few outputs and a long reduction: reduce chunks of a contiguous copy
 * first (many threads), then the partial results. Where the reduced dims are not all trailing
 * (a per-channel sum over (0, 2, 3) of [N, C, H, W]), the trailing ones go first: one thread per
 * output would leave all but a few lanes idle.
 */
function reduceSplit(kind: 'sum' | 'mean' | 'max' | 'min', x: Tensor, dims: number[], keepdim: boolean): Tensor {
  const count = numel(dims.map((i) => x.shape[i]));
  const outs = numel(outShape(x.shape, dims, false));
  if (count < 8192 || outs > 256) return launch(kind, x, dims, keepdim);
  const reducedLast = dims.every((d, i) => d === x.shape.length - dims.length + i);
  if (!reducedLast) {
    let k = dims.length; // dims[k..] are the trailing run of reduced dims
    while (k > 0 && dims[k - 1] === x.shape.length - dims.length + k - 1) k--;
    if (k === dims.length) return launch(kind, x, dims, keepdim);
    const step = kind === 'mean' ? 'sum' : kind;
    const inner = reduceSplit(step, x, dims.slice(k), true);
    const total = launch(step, inner, dims.slice(0, k), true);
    inner.dispose();
    const result = kind === 'mean' ? map([total], 'x0 * p.a', 'mean', 1 / count) : total;
    if (result !== total) total.dispose();
    const shaped = viewAs(result, outShape(x.shape, dims, keepdim));
    result.dispose();
    return shaped;
  }
  let chunk = 256;
  while (count % chunk !== 0 && chunk > 8) chunk /= 2;
  if (count % chunk !== 0) return launch(kind, x, dims, keepdim);
  const src = x.isContiguous ? x : launchCopy(x);
  const flat = viewAs(src, [outs, count / chunk, chunk]);
  const partial = launch(kind === 'mean' ? 'sum' : kind, flat, [2], false);
  const total = launch(kind === 'mean' ? 'sum' : kind, partial, [1], false);
  for (const t of [flat, partial]) t.dispose();
  if (src !== x) src.dispose();
  const result = kind === 'mean' ? map([total], 'x0 * p.a', 'mean', 1 / count) : total;
  const shaped = viewAs(result, outShape(x.shape, dims, keepdim));
  result.dispose(); // the view keeps the storage alive
  if (result !== total) total.dispose();
  return shaped;
}

function launchCopy(x: Tensor): Tensor {
  return map([x], 'x0', 'contiguous');
}

/** Sums `g` over the axes that broadcasting expanded, giving a tensor of `shape`. */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.shape.length - shape.length;
  const dims: number[] = [];
  for (let i = 0; i < g.shape.length; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) dims.push(i);
  }
  const s = reduceSplit('sum', g, dims, true);
  return reshape(s, shape);
}

/** Gradient of a reduction's output, reshaped with kept dims and expanded back over the input. */
function spread(g: Tensor, x: Tensor, dims: number[]): Tensor {
  return expand(reshape(g, outShape(x.shape, dims, true)), x.shape);
}

function reduceOp(kind: 'sum' | 'mean' | 'max' | 'min', x: Tensor, dimsArg: number | number[] | undefined, keepdim: boolean): Tensor {
  const dims = normalizeDims(kind, dimsArg, x.ndim);
  const out = reduceSplit(kind, x, dims, keepdim);
  const count = numel(dims.map((i) => x.shape[i]));
  return record(out, kind, [x], { dims, keepdim }, (g) => {
    const ge = spread(g, x, dims);
    if (kind === 'sum') return [ge];
    if (kind === 'mean') return [map([ge], 'x0 * p.a', 'mean.backward', 1 / count)];
    // max/min: the gradient goes to the extreme values, split evenly among ties.
    const oe = spread(out, x, dims);
    const hits = map([x, oe], 'select(0.0, 1.0, x0 == x1)', `${kind}.backward`);
    const ties = spread(reduceSplit('sum', hits, dims, true), x, dims);
    return [map([ge, hits, ties], 'x0 * x1 / x2', `${kind}.backward`)];
  });
}

/** Sum over `dims` (default: all), keeping them as size 1 with keepdim. @example sum(tensor([[1, 2], [3, 4]]), 1) // [3, 7] */
export const sum = (x: Tensor, dims?: number | number[], keepdim = false) => reduceOp('sum', x, dims, keepdim);
/** Mean over `dims` (default: all). @example mean(tensor([[1, 2], [3, 4]]), 0, true) // [[2, 3]] */
export const mean = (x: Tensor, dims?: number | number[], keepdim = false) => reduceOp('mean', x, dims, keepdim);
/** Maximum over `dims` (default: all); the gradient is split evenly among tied maxima. @example max(tensor([[1, 5], [7, 2]]), 1) // [5, 7] */
export const max = (x: Tensor, dims?: number | number[], keepdim = false) => reduceOp('max', x, dims, keepdim);
/** Minimum over `dims` (default: all); the gradient is split evenly among tied minima. @example min(tensor([[1, 5], [7, 2]])) // 1 (rank 0) */
export const min = (x: Tensor, dims?: number | number[], keepdim = false) => reduceOp('min', x, dims, keepdim);

/**
 * Variance; correction 1 (default, unbiased) like torch.var, 0 for the biased estimate.
 *
 * @example
 * variance(tensor([1, 2, 3, 4]));                      // 1.6667
 * variance(tensor([1, 2, 3, 4]), 0, { correction: 0 }); // 1.25
 */
export function variance(x: Tensor, dimsArg?: number | number[], opts: { keepdim?: boolean; correction?: number } = {}): Tensor {
  const keepdim = opts.keepdim ?? false;
  const correction = opts.correction ?? 1;
  const dims = normalizeDims('var', dimsArg, x.ndim);
  const out = launch('var', x, dims, keepdim, correction);
  const count = numel(dims.map((i) => x.shape[i]));
  return record(out, 'var', [x], { dims, keepdim, correction }, (g) => {
    const m = spread(launch('mean', x, dims, true), x, dims);
    return [map([spread(g, x, dims), x, m], 'x0 * 2.0 * (x1 - x2) * p.a', 'var.backward', 1 / (count - correction))];
  });
}

function argOp(kind: 'argmax' | 'argmin', x: Tensor, dim: number, keepdim: boolean): Tensor {
  const d = normalizeDim(kind, dim, x.ndim);
  return launch(kind, x, x.ndim === 0 ? [] : [d], keepdim);
}
/** Index of the largest value along dim (first one on ties), as int32. @example argmax(tensor([[1, 9, 9], [4, 0, 2]]), 1) // [1, 0] */
export const argmax = (x: Tensor, dim: number, keepdim = false) => argOp('argmax', x, dim, keepdim);
/** Index of the smallest value along dim (first one on ties), as int32. @example argmin(tensor([3, 1, 1]), 0) // 1 */
export const argmin = (x: Tensor, dim: number, keepdim = false) => argOp('argmin', x, dim, keepdim);

/**
 * log(sum(exp(x))) over dims, computed as m + log(sum(exp(x - m))) with m the (constant) max.
 *
 * @example
 * logsumexp(tensor([[1000, 1000]]), 1); // [1000.6931] (no overflow)
 */
export function logsumexp(x: Tensor, dimsArg?: number | number[], keepdim = false): Tensor {
  const dims = normalizeDims('logsumexp', dimsArg, x.ndim);
  // One kernel: per output, a max pass then Σ exp(x − max), log + max (stable; see KERNEL).
  const out = launch('logsumexp', x, dims, keepdim);
  return record(out, 'logsumexp', [x], { dims, keepdim }, (g) => {
    const oe = spread(out, x, dims);
    return [map([spread(g, x, dims), x, oe], 'x0 * exp(x1 - x2)', 'logsumexp.backward')];
  });
}
