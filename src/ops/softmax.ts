// softmax and logSoftmax along one dim, numerically stable (max-subtracted), with their backward
// formulas. All four run on kernels/rowwise.wgsl (one thread per row, two passes: statistics,
// then the elements); `rowwise` is also used by normalize in norm.ts.

import { Tensor } from '../tensor.ts';
import { record } from '../autograd/graph.ts';
import { fmt, normalizeDim, numel, padRank, stridesOf } from '../shape.ts';
import { UniformLayout } from '../device/uniform-layout.ts';
import { grid } from './grid.ts';

/** The statistics and formula of one row op; see kernels/rowwise.wgsl. */
export interface RowKernel {
  INIT: string;
  STEP: string;
  WRITE: string;
}

const WG = 64;
const rowwiseLayout = new UniformLayout(['rowwise'], {
  kshape: 'array<vec4<u32>, 2>', ka: 'array<vec4<u32>, 2>', kb: 'array<vec4<u32>, 2>', ko: 'array<vec4<u32>, 2>',
  offsets: 'vec4<u32>', dstrides: 'vec4<u32>', len: 'u32', rows: 'u32', krank: 'u32', eps: 'f32',
});

/**
 * out (contiguous, a's shape) = the row op `k` along `dim` of a (and b, a same-shaped tensor
 * the formula reads as `b`). No autograd.
 */
export function rowwise(label: string, k: RowKernel, dim: number, a: Tensor, b: Tensor | null = null, eps = 0): Tensor {
  a.assertAlive(label);
  b?.assertAlive(label);
  if (b && fmt(b.shape) !== fmt(a.shape)) throw new Error(`wgrad internal: ${label}: shapes ${fmt(a.shape)} and ${fmt(b.shape)} differ`);
  const out = Tensor.empty(a.shape, a.device);
  const len = a.shape[dim] ?? 1;
  const rows = len === 0 ? 0 : numel(a.shape) / len;
  if (rows === 0) return out;
  const kept = a.shape.map((_, i) => i).filter((i) => i !== dim);
  const os = stridesOf(a.shape);
  const pick = (s: readonly number[]) => kept.map((i) => s[i]);
  const along = (s: readonly number[]) => (a.ndim === 0 ? 0 : s[dim]);
  const bb = b ?? a;
  const u = rowwiseLayout.pack({
    kshape: padRank(kept.map((i) => a.shape[i])), ka: pick(a.strides), kb: pick(bb.strides), ko: pick(os),
    offsets: [a.offset, bb.offset], dstrides: [along(a.strides), along(bb.strides), along(os)],
    len, rows, krank: kept.length, eps,
  });
  a.device.dispatch({
    kernel: 'rowwise',
    params: { ...k, LOAD_B: b ? 'let b = B[base.y + j * p.dstrides.y];' : '' },
    buffers: [a.storage.buffer, bb.storage.buffer, out.storage.buffer],
    access: 'rrw',
    uniforms: u,
    workgroups: grid(Math.ceil(rows / WG)),
    label,
  });
  return out;
}

// Online max and Σexp in one pass: when a new maximum appears, the sum so far is rescaled.
// −inf entries (masks) add nothing, so a leading −inf cannot turn the sum into NaN.
const STATS = {
  INIT: 'var m = first_a; var s = 0.0;',
  STEP: 'if (a > m) { s = s * exp(m - a); m = a; } if (a >= -3.4e38) { s += exp(a - m); }',
};
const SOFTMAX: RowKernel = { ...STATS, WRITE: 'exp(a - m) / s' };
const LOG_SOFTMAX: RowKernel = { ...STATS, WRITE: 'a - m - log(s)' };
// Backward, with a = the forward output y and b = the incoming gradient g.
const SOFTMAX_BACKWARD: RowKernel = { INIT: 'var dot = 0.0;', STEP: 'dot += a * b;', WRITE: 'a * (b - dot)' };
const LOG_SOFTMAX_BACKWARD: RowKernel = { INIT: 'var gsum = 0.0;', STEP: 'gsum += b;', WRITE: 'b - exp(a) * gsum' };

/** exp(x − max) / Σ exp(x − max) along dim. @example softmax(tensor([[0, Math.log(3)]])) // [[0.25, 0.75]] */
export function softmax(x: Tensor, dim = -1): Tensor {
  const d = normalizeDim('softmax', dim, x.ndim);
  const y = rowwise('softmax', SOFTMAX, d, x);
  return record(y, 'softmax', [x], { dim: d }, (g) => [rowwise('softmax.backward', SOFTMAX_BACKWARD, d, y, g)]);
}

/** (x − max) − log Σ exp(x − max) along dim. @example logSoftmax(tensor([0, 0])) // [-0.6931, -0.6931] */
export function logSoftmax(x: Tensor, dim = -1): Tensor {
  const d = normalizeDim('logSoftmax', dim, x.ndim);
  const y = rowwise('logSoftmax', LOG_SOFTMAX, d, x);
  return record(y, 'logSoftmax', [x], { dim: d }, (g) => [rowwise('logSoftmax.backward', LOG_SOFTMAX_BACKWARD, d, y, g)]);
}
