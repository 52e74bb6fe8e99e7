// Pooling over NCHW tensors: maxPool2d (gradient routed to the first maximum of each window, as
// in PyTorch), avgPool2d (count_include_pad either way), adaptiveAvgPool2d to 1×1 (global
// average pool, composed from mean). kernels/pool2d.wgsl; backward kernels/pool2d_backward.wgsl
// (gather, any geometry) and kernels/pool2d_backward_window.wgsl (disjoint windows, e.g. 2×2).

import { Tensor } from '../tensor.ts';
import { record } from '../autograd/graph.ts';
import { fmt } from '../shape.ts';
import { UniformLayout } from '../device/uniform-layout.ts';
import { grid } from './grid.ts';
import { poolTuning } from './tuning.ts';
import { contiguous, paddedPlanes, reshape } from './shape.ts';
import { mean } from './reduce.ts';
import { pair, type Pair } from './conv.ts';

/** Window geometry of maxPool2d / avgPool2d: kernel size, stride (default: the kernel size), padding. */
export interface Pool2dOptions {
  kernelSize: Pair;
  /** Defaults to kernelSize. */
  stride?: Pair;
  padding?: Pair;
}

export interface Geometry {
  N: number;
  C: number;
  H: number;
  W: number;
  OH: number;
  OW: number;
  k: [number, number];
  s: [number, number];
  p: [number, number];
}

export function geometry(op: string, x: Tensor, o: Pool2dOptions): Geometry {
  if (x.ndim !== 4) throw new Error(`${op}: expected an NCHW input of rank 4, got shape ${fmt(x.shape)}`);
  const k = pair(op, 'kernelSize', o.kernelSize, 1, 1);
  const s = pair(op, 'stride', o.stride ?? o.kernelSize, 1, 1);
  const p = pair(op, 'padding', o.padding, 0, 0);
  if (p[0] > k[0] / 2 || p[1] > k[1] / 2)
    throw new Error(`${op}: padding [${p}] must be at most half the kernel size [${k}] (as in PyTorch)`);
  const [N, C, H, W] = x.shape;
  const OH = Math.floor((H + 2 * p[0] - k[0]) / s[0]) + 1;
  const OW = Math.floor((W + 2 * p[1] - k[1]) / s[1]) + 1;
  if (OH < 1 || OW < 1) throw new Error(`${op}: kernel [${k}] with padding [${p}] is larger than the input ${fmt(x.shape)}`);
  return { N, C, H, W, OH, OW, k, s, p };
}

// prettier-ignore
const forwardLayout = new UniformLayout(['pool2d'], {
  xs: 'vec4<u32>',
  N: 'u32', C: 'u32', H: 'u32', W: 'u32', OH: 'u32', OW: 'u32', kh: 'u32', kw: 'u32', sh: 'u32', sw: 'u32', ph: 'u32', pw: 'u32',
  x_offset: 'u32', total: 'u32', include_pad: 'u32',
});
// prettier-ignore
const max2Layout = new UniformLayout(['pool2d_max2_vec4'], {
  xs: 'vec4<u32>', C: 'u32', W: 'u32', OH: 'u32', OW: 'u32', Q: 'u32', x_offset: 'u32', total: 'u32',
});
// prettier-ignore
const backwardLayout = new UniformLayout(['pool2d_backward'], {
  N: 'u32', C: 'u32', H: 'u32', W: 'u32', OH: 'u32', OW: 'u32', kh: 'u32', kw: 'u32', sh: 'u32', sw: 'u32', ph: 'u32', pw: 'u32',
  g_offset: 'u32', total: 'u32', include_pad: 'u32',
});
// prettier-ignore
const windowLayout = new UniformLayout(['pool2d_backward_window'], {
  gs: 'vec4<u32>', C: 'u32', H: 'u32', W: 'u32', OH: 'u32', OW: 'u32', kh: 'u32', kw: 'u32',
  g_offset: 'u32', total: 'u32', gx_plane: 'u32', gx_row: 'u32',
});

/** The window geometry fields that pool2d and pool2d_backward share. */
const windowFields = (g: Geometry) => ({
  N: g.N,
  C: g.C,
  H: g.H,
  W: g.W,
  OH: g.OH,
  OW: g.OW,
  kh: g.k[0],
  kw: g.k[1],
  sh: g.s[0],
  sw: g.s[1],
  ph: g.p[0],
  pw: g.p[1],
});

export function poolForward(op: string, x: Tensor, g: Geometry, max: boolean, includePad: boolean): { out: Tensor; idx: Tensor } {
  const out = Tensor.empty([g.N, g.C, g.OH, g.OW], x.device);
  const idx = Tensor.empty(max ? out.shape : [1], x.device);
  const total = out.size;
  if (total > 0 && max && max2Vec4Ready(x, g) && !poolTuning.generic) {
    // 2×2, stride 2, no padding, vec4-aligned rows: kernels/pool2d_max2_vec4.wgsl.
    const Q = Math.ceil(g.W / 4);
    const threads = g.N * g.C * g.OH * Q;
    const [sn, sc, sh] = x.strides;
    x.device.dispatch({
      kernel: 'pool2d_max2_vec4',
      params: {},
      buffers: [x.storage.buffer, out.storage.buffer, idx.storage.buffer],
      access: 'rww',
      uniforms: max2Layout.pack({
        xs: [sn / 4, sc / 4, sh / 4],
        C: g.C,
        W: g.W,
        OH: g.OH,
        OW: g.OW,
        Q,
        x_offset: x.offset / 4,
        total: threads,
      }),
      workgroups: grid(Math.ceil(threads / 64)),
      label: op,
    });
  } else if (total > 0) {
    x.device.dispatch({
      kernel: 'pool2d',
      params: { MAX: max ? 'true' : 'false' },
      buffers: [x.storage.buffer, out.storage.buffer, idx.storage.buffer],
      access: 'rww',
      uniforms: forwardLayout.pack({ xs: x.strides, ...windowFields(g), x_offset: x.offset, total, include_pad: includePad ? 1 : 0 }),
      workgroups: grid(Math.ceil(total / 64)),
      label: op,
    });
  }
  return { out, idx };
}

/**
 * Whether pool2d_max2_vec4.wgsl applies: 2×2 windows, stride 2, no padding, columns contiguous,
 * other strides and offset multiples of 4 (each input row then starts a vec4), and the vec4s a
 * row spans (ceil(W / 4)) inside the row's stride, so that none reaches into the next row.
 */
function max2Vec4Ready(x: Tensor, g: Geometry): boolean {
  const [sn, sc, sh, sw] = x.strides;
  const two = g.k[0] === 2 && g.k[1] === 2 && g.s[0] === 2 && g.s[1] === 2 && g.p[0] === 0 && g.p[1] === 0;
  const aligned = sw === 1 && sh % 4 === 0 && sc % 4 === 0 && sn % 4 === 0 && x.offset % 4 === 0;
  return two && aligned && Math.ceil(g.W / 4) * 4 <= sh && x.storage.buffer.size % 16 === 0;
}

/** Windows that tile the input without overlap or padding: each input is in at most one window. */
const disjointWindows = (g: Geometry) => g.k[0] === g.s[0] && g.k[1] === g.s[1] && g.p[0] === 0 && g.p[1] === 0;

/**
 * Gradient with respect to the input. Disjoint windows (kernel = stride, no padding): one thread
 * per window writes its inputs (kernels/pool2d_backward_window.wgsl), in the padded layout of the
 * input `x` where it has one (paddedPlanes: a conv output's crop view, so that the batch norm
 * before the pool gets its gradient in its input's layout and runs its vec4 kernel); otherwise
 * one thread per input gathers from every window covering it (kernels/pool2d_backward.wgsl).
 * `generic` forces the gather kernel (tests compare the two).
 */
export function poolBackward(
  op: string,
  grad: Tensor,
  idx: Tensor | null,
  g: Geometry,
  max: boolean,
  includePad: boolean,
  x: Tensor | null = null,
  generic = false,
): Tensor {
  if (g.N * g.C * g.H * g.W > 0 && disjointWindows(g) && !generic) {
    const [Hp, Wp] = (x && paddedPlanes(x)) ?? [g.H, g.W];
    const full = Tensor.empty([g.N, g.C, Hp, Wp], grad.device);
    // Reads grad through its strides: no contiguous copy.
    const windows = grad.size;
    grad.device.dispatch({
      kernel: 'pool2d_backward_window',
      params: { MAX: max ? 'true' : 'false' },
      buffers: [grad.storage.buffer, (idx ?? grad).storage.buffer, full.storage.buffer],
      access: 'rrw',
      uniforms: windowLayout.pack({
        gs: grad.strides,
        C: g.C,
        H: g.H,
        W: g.W,
        OH: g.OH,
        OW: g.OW,
        kh: g.k[0],
        kw: g.k[1],
        g_offset: grad.offset,
        total: windows,
        gx_plane: Hp * Wp,
        gx_row: Wp,
      }),
      workgroups: grid(Math.ceil(windows / 64)),
      label: `${op}.backward`,
    });
    if (Hp === g.H && Wp === g.W) return full;
    const view = new Tensor(full.storage, [g.N, g.C, g.H, g.W], full.strides, 0);
    full.dispose(); // the view keeps the storage
    return view;
  }
  const gx = Tensor.empty([g.N, g.C, g.H, g.W], grad.device);
  const gc = contiguous(grad);
  const total = gx.size;
  if (total > 0) {
    grad.device.dispatch({
      kernel: 'pool2d_backward',
      params: { MAX: max ? 'true' : 'false' },
      buffers: [gc.storage.buffer, (idx ?? gc).storage.buffer, gx.storage.buffer],
      access: 'rrw',
      uniforms: backwardLayout.pack({ ...windowFields(g), g_offset: gc.offset, total, include_pad: includePad ? 1 : 0 }),
      workgroups: grid(Math.ceil(total / 64)),
      label: `${op}.backward`,
    });
  }
  if (gc !== grad) gc.dispose();
  return gx;
}

/** Max pooling of an NCHW tensor; padding counts as −∞. @example maxPool2d(randn([1, 3, 28, 28]), { kernelSize: 2 }).shape // [1, 3, 14, 14] */
export function maxPool2d(x: Tensor, opts: Pool2dOptions): Tensor {
  x.assertAlive('maxPool2d');
  const g = geometry('maxPool2d', x, opts);
  const { out, idx } = poolForward('maxPool2d', x, g, true, false);
  const attrs = { kernelSize: g.k, stride: g.s, padding: g.p };
  return record(out, 'maxPool2d', [x], attrs, (grad) => [poolBackward('maxPool2d', grad, idx, g, true, false, x)]);
}

/** Average pooling of an NCHW tensor; countIncludePad (default true, as PyTorch) divides by the full window. @example avgPool2d(randn([2, 8, 9, 9]), { kernelSize: 3, stride: 2, padding: 1 }).shape // [2, 8, 5, 5] */
export function avgPool2d(x: Tensor, opts: Pool2dOptions & { countIncludePad?: boolean }): Tensor {
  x.assertAlive('avgPool2d');
  const g = geometry('avgPool2d', x, opts);
  const includePad = opts.countIncludePad ?? true;
  const { out, idx } = poolForward('avgPool2d', x, g, false, includePad);
  idx.dispose();
  const attrs = { kernelSize: g.k, stride: g.s, padding: g.p, countIncludePad: includePad };
  return record(out, 'avgPool2d', [x], attrs, (grad) => [poolBackward('avgPool2d', grad, null, g, false, includePad, x)]);
}

/** Adaptive average pooling; only output size 1 (global average pool) is supported. @example adaptiveAvgPool2d(randn([4, 64, 7, 7])).shape // [4, 64, 1, 1] */
export function adaptiveAvgPool2d(x: Tensor, outputSize: Pair = 1): Tensor {
  const [oh, ow] = typeof outputSize === 'number' ? [outputSize, outputSize] : outputSize;
  if (oh !== 1 || ow !== 1)
    throw new Error(`adaptiveAvgPool2d: only output size 1 (global average pooling) is supported, got [${oh}, ${ow}]`);
  if (x.ndim !== 4) throw new Error(`adaptiveAvgPool2d: expected an NCHW input of rank 4, got shape ${fmt(x.shape)}`);
  return reshape(mean(x, [2, 3], true), [x.shape[0], x.shape[1], 1, 1]);
}
