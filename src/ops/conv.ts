// conv2d (NCHW, PyTorch semantics: stride, padding, dilation, groups) and its three gradients,
// all implicit GEMMs without an im2col buffer:
//   forward          conv2d_tile (src/ops/codegen/conv2d-tile.ts) on the zero-padded input and
//                    the packed weight
//   input gradient   the same kernel: a stride-1 convolution, with the taps flipped, of the output
//                    gradient spread out by the stride (zeros in between) and padded
//   weight gradient  conv2d_wgrad (src/ops/codegen/conv2d-wgrad.ts): the long reduction over
//                    N·OH·OW split into chunks whose partial results the `sum` op adds up
//   bias gradient    sums of the output gradient over N, H, W
// With `activation: 'relu'` the forward kernel stores max(·, 0) and the backward first masks the
// output gradient by the saved output > 0.
// The kernels read zero-padded copies (made here by kernels/conv2d_pad.wgsl, one cheap pass) so
// that they need no bounds tests and can load vec4s; see the kernel headers for why loads
// dominate on lavapipe. Tile sizes per adapter come from tuning.ts.

import { Tensor } from '../tensor.ts';
import { record, needsGrad } from '../autograd/graph.ts';
import { fmt, numel } from '../shape.ts';
import { grid } from './grid.ts';
import { convTiles } from './tuning.ts';
import { UniformLayout } from '../device/uniform-layout.ts';
import { map } from './map.ts';
import { sum } from './reduce.ts';
import { fill } from './creation-internal.ts';
import { planTile } from './codegen/conv2d-tile.ts';
import { planWgrad } from './codegen/conv2d-wgrad.ts';

/** A size given once for both spatial dims, or as [height, width]. */
export type Pair = number | readonly [number, number];

/** Options of conv2d (PyTorch's names and defaults). */
export interface Conv2dOptions {
  /** Step between windows (default 1). */
  stride?: Pair;
  /** Zeros added on each side (default 0). */
  padding?: Pair;
  /** Spacing between kernel taps (default 1). */
  dilation?: Pair;
  /** Channel groups (default 1; Cin for a depthwise convolution). */
  groups?: number;
  /**
   * 'relu': returns relu(conv2d(x, weight, bias)) with the ReLU in the kernel's store (no extra
   * pass over the output); the backward masks the output gradient by y > 0.
   */
  activation?: 'relu';
}

/** Normalises a number-or-pair option to [h, w], checking it is an integer ≥ min. */
export function pair(op: string, name: string, v: Pair | undefined, dflt: number, min: number): [number, number] {
  const p: readonly number[] = v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : v;
  if (p.length !== 2 || !p.every((d) => Number.isInteger(d) && d >= min)) {
    throw new Error(`${op}: ${name} must be an integer ≥ ${min} or a pair [h, w] of them, got ${JSON.stringify(v)}`);
  }
  return [p[0], p[1]];
}

/** PyTorch's output size (floor mode), or a clear error when the window does not fit. */
export function outSize(op: string, what: string, size: number, k: number, s: number, p: number, d: number): number {
  const span = d * (k - 1) + 1;
  if (span > size + 2 * p) {
    throw new Error(
      `${op}: ${what}: kernel extent ${span} (kernel ${k}${d > 1 ? `, dilation ${d}` : ''}) is larger than the padded input ${size + 2 * p} (size ${size}, padding ${p})`,
    );
  }
  return Math.floor((size + 2 * p - span) / s) + 1;
}

interface ConvAttrs {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
}

const WG = 64;
const i32 = 'i32' as const;
// prettier-ignore
const padLayout = new UniformLayout(['conv2d_pad', 'conv2d_pad4'], {
  C: i32, H: i32, W: i32, Hp: i32, Wp4: i32, top: i32, left: i32, sy: i32,
  sx: i32, s_off: i32, s_n: i32, s_c: i32, s_h: i32, s_w: i32, rows: i32,
});

/**
 * A contiguous [N, C, Hp, Wp] (Wp a multiple of 4) holding x[n, c, i, j] at row top + i·sy,
 * column left + j·sx and zeros elsewhere (entries that land outside are dropped): the copies the
 * conv kernels read without bounds tests.
 */
function padCopy(x: Tensor, Hp: number, Wp: number, top: number, left: number, sy: number, sx: number): Tensor {
  const [N, C, H, W] = x.shape;
  const out = Tensor.empty([N, C, Hp, Wp], x.device);
  const rows = N * C * Hp;
  if (rows === 0 || Wp === 0) return out;
  const [s_n, s_c, s_h, s_w] = x.strides;
  const u = padLayout.pack({ C, H, W, Hp, Wp4: Wp / 4, top, left, sy, sx, s_off: x.offset, s_n, s_c, s_h, s_w, rows });
  // The vec4 variant (conv2d_pad4.wgsl) where it applies: fewer loads per element on lavapipe.
  const vec4 = sy === 1 && sx === 1 && x.strides[3] === 1 && x.storage.buffer.size % 16 === 0;
  x.device.dispatch({
    kernel: vec4 ? 'conv2d_pad4' : 'conv2d_pad',
    params: { WG },
    buffers: [x.storage.buffer, out.storage.buffer],
    access: 'rw',
    uniforms: u,
    workgroups: grid(Math.ceil(rows / WG)),
    label: 'conv2d.pad',
  });
  return out;
}

/** A contiguous copy of a strided view of w (the packed weight layouts). */
function pack(w: Tensor, shape: number[], strides: number[]): Tensor {
  const v = new Tensor(w.storage, shape, strides, w.offset);
  const out = map([v], 'x0', 'conv2d.pack');
  v.dispose();
  return out;
}

interface TileArgs {
  /** Source [N, C, H, W] (x, or the output gradient) and the zero padding in front of it. */
  src: Tensor;
  pad: [number, number];
  /** Distance between source elements in the padded copy (the stride, for the input gradient). */
  spread: [number, number];
  /** Weight packed as [G, RC, KH, KW, OCG]. */
  wp: Tensor;
  bias: Tensor | null;
  out: [number, number, number, number];
  groups: number;
  kernel: [number, number];
  stride: [number, number];
  dilation: [number, number];
  flip: boolean;
  relu: boolean;
  label: string;
}

/** Runs conv2d_tile; returns the [N, OC, OH, OW] view of the tile-padded output. */
function tileConv(c: TileArgs): Tensor {
  const [N, OC] = c.out;
  const b = c.bias;
  const plan = planTile(
    {
      out: c.out,
      C: c.src.shape[1],
      groups: c.groups,
      RC: c.wp.shape[1],
      kernel: c.kernel,
      stride: c.stride,
      dilation: c.dilation,
      flip: c.flip,
      relu: c.relu,
      bias: b && { offset: b.offset, stride: b.strides[0] },
    },
    convTiles(c.src.device.info),
  );
  const out = Tensor.empty([N, OC, plan.OHp, plan.OWp], c.src.device);
  const result = () => {
    if (plan.OHp === c.out[2] && plan.OWp === c.out[3]) return out;
    const v = new Tensor(out.storage, c.out, out.strides, 0);
    out.dispose();
    return v;
  };
  if (numel(c.out) === 0) return result();
  const xp = padCopy(c.src, plan.Hp, plan.Wp, c.pad[0], c.pad[1], c.spread[0], c.spread[1]);
  const buffers = { src: xp.storage.buffer, wt: c.wp.storage.buffer, bias: b?.storage.buffer ?? null, out: out.storage.buffer };
  c.src.device.dispatch(plan.spec(buffers, c.label));
  xp.dispose();
  return result();
}

/** Weight gradient [Cout, Cin/groups, kh, kw] from x and the output gradient gy (conv2d_wgrad). */
function weightGrad(x: Tensor, gy: Tensor, wShape: readonly number[], a: ConvAttrs): Tensor {
  const [, , OH, OW] = gy.shape;
  const [, RC, KH, KW] = wShape;
  if (numel(gy.shape) === 0) return fill(wShape, 0);
  const tiles = convTiles(x.device.info);
  const plan = planWgrad(
    {
      gy: [gy.shape[0], gy.shape[1], OH, OW],
      C: x.shape[1],
      groups: a.groups,
      RC,
      kernel: [KH, KW],
      stride: a.stride,
      dilation: a.dilation,
    },
    { ct: tiles.wgradCt, ci: tiles.wgradCi, threads: tiles.wgradThreads, share: tiles.share },
  );
  const xp = padCopy(x, plan.Hp, plan.Wp, a.padding[0], a.padding[1], 1, 1);
  // The kernel reads gy from element 0 of its buffer in the padded layout.
  const gp = gy.isContiguous && gy.offset === 0 && plan.OWp === OW ? gy : padCopy(gy, OH, plan.OWp, 0, 0, 1, 1);
  const part = Tensor.empty([plan.chunks, gy.shape[1], plan.cols], x.device);
  x.device.dispatch(plan.spec({ gy: gp.storage.buffer, x: xp.storage.buffer, part: part.storage.buffer }, 'conv2d.backward(weight)'));
  xp.dispose();
  if (gp !== gy) gp.dispose();
  const total = plan.chunks === 1 ? part : sum(part, 0);
  const gw = new Tensor(total.storage, wShape, undefined, total.offset);
  part.dispose();
  if (total !== part) total.dispose();
  return gw;
}

/**
 * 2-D convolution (cross-correlation, like torch.nn.functional.conv2d): x [N, Cin, H, W],
 * weight [Cout, Cin/groups, kh, kw], optional bias [Cout] → [N, Cout, OH, OW]. stride, padding
 * and dilation are a number or [h, w]; groups = Cin gives a depthwise convolution. The result
 * may be a strided view (of an output rounded up to whole tiles).
 * @example conv2d(randn([8, 1, 28, 28]), randn([32, 1, 3, 3]), null, { padding: 1 }).shape // [8, 32, 28, 28]
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  x.assertAlive(op);
  weight.assertAlive(op);
  bias?.assertAlive(op);
  if (x.ndim !== 4) throw new Error(`${op}: input must be 4-D [N, Cin, H, W], got shape ${fmt(x.shape)}`);
  if (weight.ndim !== 4) throw new Error(`${op}: weight must be 4-D [Cout, Cin/groups, kh, kw], got shape ${fmt(weight.shape)}`);
  const groups = opts.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new Error(`${op}: groups must be a positive integer, got ${groups}`);
  const [N, Cin, H, W] = x.shape;
  const [Cout, cinG, KH, KW] = weight.shape;
  if (Cin % groups !== 0) throw new Error(`${op}: input channels ${Cin} (input ${fmt(x.shape)}) are not divisible by groups=${groups}`);
  if (Cout % groups !== 0)
    throw new Error(`${op}: output channels ${Cout} (weight ${fmt(weight.shape)}) are not divisible by groups=${groups}`);
  if (cinG * groups !== Cin) {
    throw new Error(
      `${op}: channel mismatch: input ${fmt(x.shape)} has ${Cin} channels but weight ${fmt(weight.shape)} expects ${cinG}${groups > 1 ? ` × groups ${groups} = ${cinG * groups}` : ''}`,
    );
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== Cout))
    throw new Error(`${op}: bias must have shape [${Cout}] for weight ${fmt(weight.shape)}, got ${fmt(bias.shape)}`);
  const { activation } = opts;
  if (activation !== undefined && activation !== 'relu')
    throw new Error(`${op}: unknown activation '${String(activation)}' (supported: 'relu')`);
  const relu = activation === 'relu';
  const a: ConvAttrs = {
    stride: pair(op, 'stride', opts.stride, 1, 1),
    padding: pair(op, 'padding', opts.padding, 0, 0),
    dilation: pair(op, 'dilation', opts.dilation, 1, 1),
    groups,
  };
  const where = `input ${fmt(x.shape)}, weight ${fmt(weight.shape)}`;
  const OH = outSize(op, `${where}, height`, H, KH, a.stride[0], a.padding[0], a.dilation[0]);
  const OW = outSize(op, `${where}, width`, W, KW, a.stride[1], a.padding[1], a.dilation[1]);
  const G = groups;
  const coutG = Cout / G;
  const ws = weight.strides;
  // Forward weight layout [G, cinG, KH, KW, coutG].
  const wf = pack(weight, [G, cinG, KH, KW, coutG], [coutG * ws[0], ws[1], ws[2], ws[3], ws[0]]);
  const out = tileConv({
    src: x,
    pad: a.padding,
    spread: [1, 1],
    wp: wf,
    bias: bias ?? null,
    out: [N, Cout, OH, OW],
    groups: G,
    kernel: [KH, KW],
    stride: a.stride,
    dilation: a.dilation,
    flip: false,
    relu,
    label: op,
  });
  wf.dispose();
  const inputs = bias ? [x, weight, bias] : [x, weight];
  // With the ReLU, the backward needs the output (for its mask): a view of it of its own, which
  // the caller disposing `out` does not free.
  const saved = relu ? new Tensor(out.storage, out.shape, out.strides, out.offset) : null;
  const result = record(out, op, inputs, relu ? { ...a, activation } : { ...a }, (gyIn) => {
    const gy = saved ? map([gyIn, saved], 'select(0.0, x0, x1 > 0.0)', 'conv2d.backward (relu)') : gyIn;
    let gx: Tensor | null = null;
    if (needsGrad(x)) {
      // Transposed convolution: gy spread out by the stride and padded by dilation·(k − 1) −
      // padding, convolved with stride 1 and the flipped weight, laid out [G, coutG, KH, KW, cinG].
      const wb = pack(weight, [G, coutG, KH, KW, cinG], [coutG * ws[0], ws[0], ws[2], ws[3], ws[1]]);
      const pad = [0, 1].map((i) => a.dilation[i] * ((i ? KW : KH) - 1) - a.padding[i]) as [number, number];
      gx = tileConv({
        src: gy,
        pad,
        spread: a.stride,
        wp: wb,
        bias: null,
        out: [N, Cin, H, W],
        groups: G,
        kernel: [KH, KW],
        stride: [1, 1],
        dilation: a.dilation,
        flip: true,
        relu: false,
        label: 'conv2d.backward(input)',
      });
      wb.dispose();
    }
    const gw = needsGrad(weight) ? weightGrad(x, gy, weight.shape, a) : null;
    let gb: Tensor | null = null;
    if (bias && needsGrad(bias)) {
      const perPlane = sum(gy, [2, 3]);
      gb = sum(perPlane, 0);
      perPlane.dispose();
    }
    if (gy !== gyIn) gy.dispose();
    return [gx, gw, gb];
  });
  if (!result.node) saved?.dispose();
  return result;
}
