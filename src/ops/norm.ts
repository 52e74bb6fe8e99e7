// Normalisation ops: batchNorm (training with batch statistics and in-place running-stat
// updates, eval with running statistics, and MoCo's SplitBatchNorm through `groups`) and
// normalize (L2, as torch.nn.functional.normalize).
//
// Training-mode batch norm is three dispatches each way: per-channel partial sums
// (kernels/batchnorm_stats.wgsl, many threads per channel), one thread per channel to combine
// them into coefficients (kernels/batchnorm_finish.wgsl), and one fused pointwise pass
// (kernels/batchnorm_apply.wgsl). The backward pass has the same shape: partial sums of g and
// g·(x − mean), coefficients, then gx = g·A + x·B + C in one pass; dL/dweight and dL/dbias fall
// out of the coefficient pass. The partial sums and the pointwise pass have vec4 fast paths
// (kernels/batchnorm_stats_vec4.wgsl, kernels/batchnorm_apply_vec4.wgsl) for contiguous x (and
// g) with H·W % 4 = 0 and for conv2d's padded crop views (whole padded planes; the statistics
// mask what lies outside the crop); the strided pointwise kernel gives each large plane its own
// workgroup.
//
// `activation: 'relu'` fuses a following ReLU: the apply pass writes max(y, 0), and the backward
// passes mask g by y > 0 (recomputed from x and the forward coefficients), so batch norm + ReLU
// costs no extra dispatch or tensor either way. The op records as batchNorm with attribute
// activation 'relu' (the float64 reference applies it too).

import { Tensor } from '../tensor.ts';
import { isGradEnabled, needsGrad, record } from '../autograd/graph.ts';
import { fmt, normalizeDim, numel } from '../shape.ts';
import { UniformLayout } from '../device/uniform-layout.ts';
import { grid } from './grid.ts';
import { map, mapInto } from './map.ts';
import { fill } from './creation-internal.ts';
import { add, isNanWgsl, mul, relu as reluOp } from './elementwise.ts';
import { paddedPlanes, reshape } from './shape.ts';
import { rowwise, type RowKernel } from './codegen/rowwise.ts';

// ---- batch norm ---------------------------------------------------------------------------------

/** Options of batchNorm(): training or eval mode, running-statistics momentum, eps, split-BN groups. */
export interface BatchNormOptions {
  /** true: normalise with the batch statistics and update the running ones. */
  training: boolean;
  /** running = (1 − momentum)·running + momentum·batch statistic (default 0.1). */
  momentum?: number;
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /**
   * SplitBatchNorm (MoCo): sample n is normalised with the statistics of the samples n' with
   * n' % groups = n % groups, as `x.view(-1, C * groups, H, W)` does; the running statistics
   * take the mean over the groups. Default 1.
   */
  groups?: number;
  /** 'relu': returns relu(batchNorm(x)) in one fused pass (and a fused backward). */
  activation?: 'relu';
}

/** x as [N, C, H, W] (a 2-D input has H = W = 1, a 3-D one W = 1): sizes and strides. */
function asNCHW(x: Tensor): { dims: number[]; strides: number[] } {
  const dims = [...x.shape, 1, 1].slice(0, 4);
  const strides = [...x.strides, 0, 0].slice(0, 4);
  return { dims, strides };
}

function checkChannel(name: string, t: Tensor | null | undefined, c: number, x: Tensor): void {
  if (!t) return;
  t.assertAlive('batchNorm');
  if (t.ndim !== 1 || t.shape[0] !== c)
    throw new Error(`batchNorm: ${name} has shape ${fmt(t.shape)}, expected [${c}] for input ${fmt(x.shape)}`);
}

/** Contiguous with an offset divisible by 4: readable as vec4s (with H·W % 4 = 0, by whole planes). */
const vec4Ready = (t: Tensor) => t.isContiguous && t.offset % 4 === 0;

/** Whether a has b's strides and is a padded crop view (see paddedPlanes), aligned for vec4s. */
const sameLayout = (a: Tensor, b: Tensor) =>
  a.offset % 4 === 0 && a.strides.every((s, i) => s === b.strides[i]) && paddedPlanes(a) !== null;

// prettier-ignore
const statsLayout = new UniformLayout(['batchnorm_stats'], {
  dims: 'vec4<u32>', xs: 'vec4<u32>', gs: 'vec4<u32>',
  x_offset: 'u32', g_offset: 'u32', groups: 'u32', count: 'u32', chunk: 'u32', chunks: 'u32', total: 'u32',
});

/** Partial sums of the strided kernel (kernels/batchnorm_stats.wgsl); returns them and the runs per pair. */
function stridedStatistics(
  x: Tensor,
  g: Tensor | null,
  saved: Tensor | null,
  groups: number,
  count: number,
  pairs: number,
  BACKWARD: string,
  RELU: string,
  label: string,
): [Tensor, number] {
  const { dims, strides } = asNCHW(x);
  // Enough runs per pair to occupy the device, each at least 64 elements long.
  const chunks0 = Math.max(1, Math.min(Math.ceil(16384 / pairs), Math.ceil(count / 64)));
  const chunk = Math.ceil(count / chunks0);
  const chunks = Math.ceil(count / chunk);
  const total = pairs * chunks;
  const partial = Tensor.empty([total * 2], x.device);
  const gv = g ? asNCHW(g).strides : [0, 0, 0, 0];
  x.device.dispatch({
    kernel: 'batchnorm_stats',
    params: { BACKWARD, RELU },
    buffers: [x.storage.buffer, (g ?? x).storage.buffer, (saved ?? x).storage.buffer, partial.storage.buffer],
    access: 'rrrw',
    uniforms: statsLayout.pack({
      dims,
      xs: strides,
      gs: gv,
      x_offset: x.offset,
      g_offset: g?.offset ?? 0,
      groups,
      count,
      chunk,
      chunks,
      total,
    }),
    workgroups: grid(Math.ceil(total / 64)),
    label,
  });
  return [partial, chunks];
}

// prettier-ignore
const statsVec4Layout = new UniformLayout(['batchnorm_stats_vec4'], {
  C: 'u32', hw4: 'u32', groups: 'u32', count4: 'u32', chunk: 'u32', chunks: 'u32', total: 'u32', x_offset: 'u32', g_offset: 'u32',
  w4: 'u32', H: 'u32', W: 'u32',
});
// prettier-ignore
const finishLayout = new UniformLayout(['batchnorm_finish'], {
  C: 'u32', groups: 'u32', chunks: 'u32', count: 'u32', eps: 'f32', has_w: 'u32', has_b: 'u32', x_offset: 'u32', xs_n: 'u32', xs_c: 'u32',
  w_offset: 'u32', w_stride: 'u32', b_offset: 'u32', b_stride: 'u32',
});

/**
 * Partial sums (stats kernels: vec4 for contiguous x, g with H·W % 4 = 0, else strided) and
 * coefficients (finish kernel); returns the coefficient tensor. `generic` forces the strided sums.
 */
export function coefficients(
  mode: 'forward' | 'backward',
  x: Tensor,
  g: Tensor | null,
  saved: Tensor | null,
  weight: Tensor | null,
  bias: Tensor | null,
  groups: number,
  eps: number,
  relu = false,
  generic = false,
): Tensor {
  const { dims, strides } = asNCHW(x);
  const [n, c, h, w] = dims;
  const count = (n / groups) * h * w;
  const pairs = groups * c;
  const BACKWARD = mode === 'backward' ? 'true' : 'false';
  const RELU = relu && mode === 'backward' ? 'true' : 'false';
  const label = `batchNorm${mode === 'backward' ? '.backward' : ''} statistics`;
  let partial: Tensor;
  let chunks: number;
  // The vec4 kernel on contiguous planes, or on whole padded planes (conv2d's crop views; lanes
  // outside the crop count 0), where g, if any, has the same layout.
  const padded = generic ? null : paddedPlanes(x);
  const planes =
    padded && (!g || sameLayout(g, x)) ? padded : !generic && (h * w) % 4 === 0 && vec4Ready(x) && (!g || vec4Ready(g)) ? [h, w] : null;
  if (planes) {
    // Runs of vec4s (kernels/batchnorm_stats_vec4.wgsl).
    const hw4 = (planes[0] * planes[1]) / 4;
    const count4 = (n / groups) * hw4;
    const chunks0 = Math.max(1, Math.min(Math.ceil(16384 / pairs), Math.ceil(count4 / 16)));
    const chunk = Math.ceil(count4 / chunks0);
    chunks = Math.ceil(count4 / chunk);
    const total = pairs * chunks;
    partial = Tensor.empty([total * 2], x.device);
    x.device.dispatch({
      kernel: 'batchnorm_stats_vec4',
      params: { BACKWARD, RELU, PADDED: planes === padded ? 'true' : 'false' },
      buffers: [x.storage.buffer, (g ?? x).storage.buffer, (saved ?? x).storage.buffer, partial.storage.buffer],
      access: 'rrrw',
      uniforms: statsVec4Layout.pack({
        C: c,
        hw4,
        groups,
        count4,
        chunk,
        chunks,
        total,
        x_offset: x.offset / 4,
        g_offset: (g?.offset ?? 0) / 4,
        w4: planes === padded ? planes[1] / 4 : 0,
        H: h,
        W: w, // w4 is read only for padded planes (whose rows are whole vec4s)
      }),
      workgroups: grid(Math.ceil(total / 64)),
      label,
    });
  } else {
    [partial, chunks] = stridedStatistics(x, g, saved, groups, count, pairs, BACKWARD, RELU, label);
  }
  const coef = Tensor.empty([pairs + c, 4], x.device);
  x.device.dispatch({
    kernel: 'batchnorm_finish',
    params: { BACKWARD },
    buffers: [
      partial.storage.buffer,
      x.storage.buffer,
      (saved ?? x).storage.buffer,
      (weight ?? x).storage.buffer,
      (bias ?? x).storage.buffer,
      coef.storage.buffer,
    ],
    access: 'rrrrrw',
    uniforms: finishLayout.pack({
      C: c,
      groups,
      chunks,
      count,
      eps,
      has_w: weight ? 1 : 0,
      has_b: bias ? 1 : 0,
      x_offset: x.offset,
      xs_n: strides[0],
      xs_c: strides[1],
      w_offset: weight?.offset ?? 0,
      w_stride: weight?.strides[0] ?? 0,
      b_offset: bias?.offset ?? 0,
      b_stride: bias?.strides[0] ?? 0,
    }),
    workgroups: [Math.ceil(c / 64)],
    label: `batchNorm${mode === 'backward' ? '.backward' : ''} coefficients`,
  });
  partial.dispose();
  return coef;
}

// prettier-ignore
const applyVec4Layout = new UniformLayout(['batchnorm_apply_vec4'], {
  hw4: 'u32', C: 'u32', groups: 'u32', threads: 'u32', x_offset: 'u32', g_offset: 'u32',
});
// prettier-ignore
const applyLayout = new UniformLayout(['batchnorm_apply'], {
  dims: 'vec4<u32>', xs: 'vec4<u32>', gs: 'vec4<u32>', x_offset: 'u32', g_offset: 'u32', groups: 'u32', numel: 'u32',
});

/**
 * y = x·coef.0 + coef.1 (forward) or gx = g'·coef.0 + x·coef.1 + coef.2 (backward), per pair;
 * relu: y → max(y, 0), g' = g masked by x·saved.0 + saved.1 > 0 (saved: the forward coefficients).
 * `generic` forces the strided kernel (tests compare it with the vec4 one): true picks its layout
 * as usual, 'elements' forces one thread per element.
 */
export function applyCoefficients(
  x: Tensor,
  g: Tensor | null,
  coef: Tensor,
  saved: Tensor | null,
  groups: number,
  relu: boolean,
  generic: boolean | 'elements' = false,
): Tensor {
  const { dims, strides } = asNCHW(x);
  const out = Tensor.empty(x.shape, x.device);
  const n = out.size;
  if (n === 0) return out;
  const hw = dims[2] * dims[3];
  const params = { BACKWARD: g ? 'true' : 'false', RELU: relu ? 'true' : 'false' };
  const buffers = [x.storage.buffer, (g ?? x).storage.buffer, coef.storage.buffer, (saved ?? coef).storage.buffer, out.storage.buffer];
  const label = g ? 'batchNorm.backward' : 'batchNorm';
  // Only for planes of ≥ 128 elements: small ones pad proportionally more (7×7 in 8×8: +31%), and
  // a padded output slows consumers that want contiguous data (the global average pool's mean).
  const padded = generic || hw < 128 ? null : paddedPlanes(x);
  if (padded && (!g || sameLayout(g, x))) {
    // Padded crop views (conv2d's outputs): run the vec4 kernel over the whole padded block and
    // return the same crop of a padded output (the padding holds values nobody reads).
    const full = Tensor.empty([dims[0], dims[1], ...padded], x.device);
    out.dispose();
    const hw4 = (padded[0] * padded[1]) / 4;
    const vecs = hw4 % 4 === 0 ? 4 : hw4 % 2 === 0 ? 2 : 1;
    const threads = full.size / 4 / vecs;
    x.device.dispatch({
      kernel: 'batchnorm_apply_vec4',
      params: { ...params, VECS: vecs },
      buffers: [x.storage.buffer, (g ?? x).storage.buffer, coef.storage.buffer, (saved ?? coef).storage.buffer, full.storage.buffer],
      access: 'rrrrw',
      uniforms: applyVec4Layout.pack({ hw4, C: dims[1], groups, threads, x_offset: x.offset / 4, g_offset: (g?.offset ?? 0) / 4 }),
      workgroups: grid(Math.ceil(threads / 64)),
      label,
    });
    const view = new Tensor(full.storage, x.shape, full.strides, 0);
    full.dispose(); // the view keeps the storage
    return view;
  }
  if (!generic && hw % 4 === 0 && vec4Ready(x) && (!g || vec4Ready(g))) {
    const hw4 = hw / 4;
    const vecs = hw4 % 4 === 0 ? 4 : hw4 % 2 === 0 ? 2 : 1;
    const threads = n / 4 / vecs;
    x.device.dispatch({
      kernel: 'batchnorm_apply_vec4',
      params: { ...params, VECS: vecs },
      buffers,
      access: 'rrrrw',
      uniforms: applyVec4Layout.pack({ hw4, C: dims[1], groups, threads, x_offset: x.offset / 4, g_offset: (g?.offset ?? 0) / 4 }),
      workgroups: grid(Math.ceil(threads / 64)),
      label,
    });
    return out;
  }
  // Planes of ≥ 128 elements: a workgroup per plane, no integer division per element (about 2×
  // faster on lavapipe for 14×14 planes); smaller planes waste lanes: a thread per element.
  const planes = generic !== 'elements' && hw >= 128;
  x.device.dispatch({
    kernel: 'batchnorm_apply',
    params: { ...params, PLANES: planes ? 'true' : 'false' },
    buffers,
    access: 'rrrrw',
    uniforms: applyLayout.pack({
      dims,
      xs: strides,
      gs: g ? asNCHW(g).strides : [0, 0, 0, 0],
      x_offset: x.offset,
      g_offset: g?.offset ?? 0,
      groups,
      numel: n,
    }),
    workgroups: grid(planes ? dims[0] * dims[1] : Math.ceil(n / 64)),
    label,
  });
  return out;
}

/** Column k of the per-channel tail of a coefficient tensor, as a [C] view. */
function tailColumn(coef: Tensor, c: number, k: number): Tensor {
  return new Tensor(coef.storage, [c], [4], coef.offset + (coef.shape[0] - c) * 4 + k);
}

/**
 * Batch normalisation of x [N, C], [N, C, L] or [N, C, H, W] (PyTorch semantics).
 * Training: normalises with the batch mean and biased variance (per group when `groups` > 1) and,
 * when running statistics are given, updates them in place with the batch mean and the unbiased
 * variance. Eval: normalises with the running statistics. Without running statistics the batch
 * statistics are used in both modes (as nn.BatchNorm2d(track_running_stats=False)).
 * weight / bias (affine parameters, [C]) may be null. `activation: 'relu'` returns
 * relu(batchNorm(x)) with the ReLU fused into the same passes, forward and backward.
 *
 * @example
 * const x = randn([16, 3, 8, 8]);
 * const [rm, rv] = [zeros([3]), ones([3])];
 * const y = batchNorm(x, rm, rv, ones([3]), zeros([3]), { training: true }); // rm, rv updated in place
 * const z = batchNorm(x, rm, rv, null, null, { training: false });           // uses rm, rv
 */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null,
  bias: Tensor | null,
  opts: BatchNormOptions,
): Tensor {
  x.assertAlive('batchNorm');
  const { training, momentum = 0.1, eps = 1e-5, groups = 1, activation } = opts;
  if (activation !== undefined && activation !== 'relu')
    throw new Error(`batchNorm: unknown activation '${String(activation)}' (supported: 'relu')`);
  const relu = activation === 'relu';
  if (x.ndim < 2 || x.ndim > 4) throw new Error(`batchNorm: input must be [N, C], [N, C, L] or [N, C, H, W], got shape ${fmt(x.shape)}`);
  const c = x.shape[1];
  checkChannel('weight', weight, c, x);
  checkChannel('bias', bias, c, x);
  checkChannel('runningMean', runningMean, c, x);
  checkChannel('runningVar', runningVar, c, x);
  if (!runningMean !== !runningVar) throw new Error('batchNorm: give both runningMean and runningVar, or neither');
  if (!training && runningMean && runningVar) return batchNormEval(x, runningMean, runningVar, weight, bias, eps, relu);

  const n = x.shape[0];
  if (!Number.isInteger(groups) || groups < 1 || n % groups !== 0) {
    throw new Error(`batchNorm: batch size ${n} of input ${fmt(x.shape)} is not divisible into groups=${groups}`);
  }
  const count = (n / groups) * numel(x.shape.slice(2));
  if (count <= 1) {
    throw new Error(
      `batchNorm: expected more than 1 value per channel when training, got input of shape ${fmt(x.shape)} with groups=${groups} ` +
        `(${count} value(s) per channel per group)`,
    );
  }
  const coef = coefficients('forward', x, null, null, weight, bias, groups, eps);
  const y = applyCoefficients(x, null, coef, null, groups, relu);
  if (runningMean && runningVar) {
    const m = momentum;
    for (const [running, k] of [
      [runningMean, 0],
      [runningVar, 1],
    ] as const) {
      const stat = tailColumn(coef, c, k);
      mapInto(running, [running, stat], 'x0 + p.a * (x1 - x0)', 'batchNorm running statistics', m);
      stat.dispose();
    }
  }
  // The reference op takes [x], [x, weight] or [x, weight, bias]: a bias alone gets a constant weight.
  const w = weight ?? (bias ? fill([c], 1) : null);
  const inputs = [x, ...(w ? [w] : []), ...(bias ? [bias] : [])];
  const attrs = relu ? { eps, groups, activation } : { eps, groups };
  const out = record(y, 'batchNorm', inputs, attrs, (g) => {
    const gcoef = coefficients('backward', x, g, coef, weight, null, groups, eps, relu);
    const gx = applyCoefficients(x, g, gcoef, coef, groups, relu);
    const grads = [gx, w ? tailColumn(gcoef, c, 0) : null, bias ? tailColumn(gcoef, c, 1) : null];
    gcoef.dispose(); // the views keep the storage
    return grads;
  });
  if (!out.node) {
    coef.dispose();
    if (w && w !== weight) w.dispose();
  }
  return out;
}

/** Eval mode: y = (x − runningMean)·weight/sqrt(runningVar + eps) + bias, per channel (relu: max(y, 0)). */
function batchNormEval(x: Tensor, rm: Tensor, rv: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number, relu: boolean): Tensor {
  const c = x.shape[1];
  const chan = [c, ...x.shape.slice(2).map(() => 1)];
  const invStd = map([rv], 'inverseSqrt(x0 + p.a)', 'batchNorm (eval)', eps);
  const differentiable = isGradEnabled() && [x, weight, bias].some((t) => t && needsGrad(t));
  if (differentiable) {
    // Composed of recorded ops so that autograd (and the reference replay) follow it.
    const scale = weight ? mul(weight, invStd) : invStd;
    const shift = map([rm, invStd], '-x0 * x1', 'batchNorm (eval)'); // constant: −mean·istd
    const shiftW = weight ? mul(shift, weight) : shift;
    const shiftB = bias ? add(shiftW, bias) : shiftW;
    const y = add(mul(x, reshape(scale, chan)), reshape(shiftB, chan));
    return relu ? reluOp(y) : y;
  }
  // Inference: the per-channel scale and shift go into the coefficient rows that training's apply
  // pass reads (y = x·a + b, its vec4 kernel), instead of a map over broadcast views, whose
  // per-element index arithmetic and three loads made it 2× slower than the convolutions around it.
  const coef = Tensor.empty([c, 4], x.device);
  const [scale, shift] = [0, 1].map((k) => new Tensor(coef.storage, [c], [4], coef.offset + k));
  mapInto(scale, weight ? [invStd, weight] : [invStd], weight ? 'x0 * x1' : 'x0', 'batchNorm (eval)');
  mapInto(shift, [rm, scale, ...(bias ? [bias] : [])], bias ? 'x2 - x0 * x1' : '-x0 * x1', 'batchNorm (eval)');
  const y = applyCoefficients(x, null, coef, null, 1, relu);
  for (const t of [invStd, scale, shift, coef]) t.dispose();
  return y;
}

// ---- normalize ----------------------------------------------------------------------------------

const NORMALIZE: RowKernel = {
  INIT: 'var ss = 0.0;',
  STEP: 'ss += a * a;',
  WRITE: `a / select(max(sqrt(ss), p.eps), ss, ${isNanWgsl('ss')})`,
}; // NaN stays NaN, as PyTorch
// a = x, b = g. With n = ‖x‖ > eps: gx = g/n − x·(g·x)/n³; else (clamped): gx = g/eps.
const NORMALIZE_BACKWARD: RowKernel = {
  INIT: 'var ss = 0.0; var gx = 0.0;',
  STEP: 'ss += a * a; gx += a * b;',
  WRITE: 'select(b / p.eps, (b - a * gx / ss) / sqrt(ss), sqrt(ss) > p.eps)',
};

/** x / max(‖x‖₂, eps) along dim, as torch.nn.functional.normalize (p = 2). @example normalize(tensor([[3, 4]])) // [[0.6, 0.8]] */
export function normalize(x: Tensor, dim = 1, eps = 1e-12): Tensor {
  const d = normalizeDim('normalize', dim, x.ndim);
  const y = rowwise('normalize', NORMALIZE, d, x, null, eps);
  return record(y, 'normalize', [x], { dim: d, eps }, (g) => [rowwise('normalize.backward', NORMALIZE_BACKWARD, d, x, g, eps)]);
}
