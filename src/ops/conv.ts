// conv2d (NCHW, PyTorch semantics: stride, padding, dilation, groups) and its three gradients,
// all implicit GEMMs without an im2col buffer:
//   forward          kernels/conv2d_tile.wgsl on the zero-padded input and the packed weight
//   input gradient   the same kernel: a stride-1 convolution, with the taps flipped, of the output
//                    gradient spread out by the stride (zeros in between) and padded
//   weight gradient  kernels/conv2d_wgrad.wgsl: the long reduction over N·OH·OW split into chunks
//                    whose partial results the `sum` op adds up
//   bias gradient    sums of the output gradient over N, H, W
// With `activation: 'relu'` the forward kernel stores max(·, 0) and the backward first masks the
// output gradient by the saved output > 0.
// The kernels read zero-padded copies (made here, one cheap pass) so that they need no bounds
// tests and can load vec4s; see the kernel headers for why loads dominate on lavapipe.

import { Tensor } from '../tensor.ts';
import { record, needsGrad } from '../autograd/graph.ts';
import { fmt, numel } from '../shape.ts';
import { grid } from './grid.ts';
import { convTuning, shareLoads } from './tuning.ts';
import { UniformLayout } from '../device/uniform-layout.ts';
import { map } from './map.ts';
import { sum } from './reduce.ts';
import { cachedParams, type KernelParams } from '../device/kernel-sources.ts';

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
    throw new Error(`${op}: ${what}: kernel extent ${span} (kernel ${k}${d > 1 ? `, dilation ${d}` : ''}) is larger than the padded input ${size + 2 * p} (size ${size}, padding ${p})`);
  }
  return Math.floor((size + 2 * p - span) / s) + 1;
}

const WG = 64;

const i32 = 'i32' as const;
const padLayout = new UniformLayout(['conv2d_pad', 'conv2d_pad4'], {
  C: i32, H: i32, W: i32, Hp: i32, Wp4: i32, top: i32, left: i32, sy: i32,
  sx: i32, s_off: i32, s_n: i32, s_c: i32, s_h: i32, s_w: i32, rows: i32,
});
const tileLayout = new UniformLayout(['conv2d_tile'], {
  tiles_x: i32, tiles_y: i32, tiles: i32, RC: i32, OCG: i32, has_bias: i32, b_off: i32, b_s: i32,
  s_n: i32, s_c: i32, s_h: i32, s_x: i32, s_y: i32, o_n: i32, o_c: i32, o_h: i32,
  w_g: i32, w_rc: i32, w_tap: i32,
});
const wgradLayout = new UniformLayout(['conv2d_wgrad'], {
  tiles_x: i32, OH: i32, tiles: i32, chunk: i32, OC: i32, OCG: i32, RC: i32, cols: i32,
  nct: i32, nci: i32, G: i32, threads: i32, g_n: i32, g_c: i32, g_h: i32, x_n: i32,
  x_c: i32, x_h: i32, x_sx: i32, x_sy: i32, CT: i32, CI: i32,
});

/**
 * The template pieces that declare subgroup use (empty when not sharing). The kernels' loops
 * depend on the thread index, which WGSL's uniformity analysis cannot see is the same across a
 * subgroup's lanes (it is, by how the threads are laid out), hence the diagnostic directive.
 */
const subgroupParams = (share: boolean) => ({
  ENABLE: share ? 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);' : '',
  SG_ARG: share ? ', @builtin(subgroup_invocation_id) sg_lane: u32, @builtin(subgroup_size) sg_size: u32' : '',
  SG_SETUP: share ? 'let sg8 = sg_lane % 8u;' : '',
});
const XYZW = 'xyzw';

// Generated kernel parameters (tens of KB of unrolled code) per configuration (cachedParams).
const tileParams = new Map<string, KernelParams>();
const wgradParams = new Map<string, KernelParams>();

/**
 * A contiguous [N, C, Hp, Wp] (Wp a multiple of 4) holding x[n, c, i, j] at row top + i·sy,
 * column left + j·sx and zeros elsewhere (entries that land outside are dropped).
 */
function spread(x: Tensor, Hp: number, Wp: number, top: number, left: number, sy: number, sx: number): Tensor {
  const [N, C, H, W] = x.shape;
  const out = Tensor.empty([N, C, Hp, Wp], x.device);
  const rows = N * C * Hp;
  if (rows === 0 || Wp === 0) return out;
  const [s_n, s_c, s_h, s_w] = x.strides;
  const u = padLayout.pack({ C, H, W, Hp, Wp4: Wp / 4, top, left, sy, sx, s_off: x.offset, s_n, s_c, s_h, s_w, rows });
  // The vec4 variant (conv2d_pad4.wgsl) where it applies: 1–4 fewer loads per element on lavapipe.
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

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

interface TileConv {
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
  /** ReLU in the store (the forward's `activation: 'relu'`). */
  relu: boolean;
  label: string;
}

/** The unrolled parts of conv2d_tile.wgsl; `share`: weights loaded once per 8-lane subgroup (see its header). */
function tileCode(ct: number, th: number, c: TileConv, ph: number, nv: number, share: boolean): Record<string, string | number> {
  const [KH, KW] = c.kernel;
  const [SY, SX] = c.stride;
  const [DY, DX] = c.dilation;
  const vecW = ct % 4 === 0;
  const perTap = vecW ? ct / 4 : ct; // WT elements of weight per tap
  const nw = KH * KW * perTap; // per reduced channel
  // Shared: lane l of each 8 loads weight elements l, l + 8, … of the channel's taps; element e
  // then comes from lane e % 8 by subgroupBroadcast.
  const wload: string[] = [];
  if (share) {
    for (let q = 0; q < Math.ceil(nw / 8); q++) {
      wload.push(`let we${q} = min(sg8 + ${8 * q}u, ${nw - 1}u);`, `let wl${q} = wt[wb + i32(we${q} / ${perTap}u) * p.w_tap + i32(we${q} % ${perTap}u)];`);
    }
  }
  const weight = (tap: number, j: number) => {
    const e = tap * perTap + j;
    return share ? `subgroupBroadcast(wl${e >> 3}, ${e & 7}u)` : `wt[wb + ${tap} * p.w_tap + ${j}]`;
  };
  const acc: string[] = [];
  const store: string[] = [];
  for (let q = 0; q < ct; q++) for (let a = 0; a < th; a++) {
    acc.push(`var a${q}_${a} = vec4<f32>(0.0);`);
    const v = `a${q}_${a} + vec4<f32>(b[${q}])`;
    store.push(`out[ob + ${q} * p.o_c + ${a} * p.o_h] = ${c.relu ? `max(${v}, vec4<f32>(0.0))` : v};`);
  }
  const used = new Set<string>();
  const fma: string[] = [];
  const px = (i: number, col: number) => {
    used.add(`${i}_${col >> 2}`);
    return `r${i}_${col >> 2}.${XYZW[col & 3]}`;
  };
  for (let ky = 0; ky < KH; ky++) for (let kx = 0; kx < KW; kx++) {
    const tap = c.flip ? (KH - 1 - ky) * KW + (KW - 1 - kx) : ky * KW + kx;
    fma.push(`{`);
    for (let j = 0; j < perTap; j++) fma.push(`  let w${j} = ${weight(tap, j)};`);
    for (let q = 0; q < ct; q++) {
      const w = vecW ? `w${q >> 2}.${XYZW[q & 3]}` : `w${q}`;
      for (let a = 0; a < th; a++) {
        const i = a * SY + ky * DY;
        const v = [0, 1, 2, 3].map((e) => px(i, kx * DX + e * SX)).join(', ');
        fma.push(`  a${q}_${a} += ${w} * vec4<f32>(${v});`);
      }
    }
    fma.push(`}`);
  }
  // Shared: the next lane's tile starts SX vec4s further along the row, so vec4 v ≥ SX of this
  // lane's patch is the next lane's vec4 v − SX: taken by subgroupShuffleDown, and loaded only
  // where there is no such neighbour (the subgroup's last lane, the row's last tile).
  const load: string[] = [];
  for (let i = 0; i < ph; i++) for (let v = 0; v < nv; v++) {
    if (!used.has(`${i}_${v}`)) continue;
    const own = `src[sb + ${i} * p.s_h + ${v}]`;
    if (share && v >= SX && used.has(`${i}_${v - SX}`)) {
      load.push(`var r${i}_${v} = subgroupShuffleDown(r${i}_${v - SX}, 1u);`, `if (own) { r${i}_${v} = ${own}; }`);
    } else {
      load.push(`let r${i}_${v} = ${own};`);
    }
  }
  return {
    ...subgroupParams(share),
    NEIGHBOUR: share ? 'let own = sg_lane + 1u >= sg_size || subgroupShuffleDown(t, 1u) != t + 1 || tx == p.tiles_x - 1;' : '',
    ACC: acc.join(' '),
    LOAD: [...load, ...wload].join('\n    '),
    FMA: fma.join('\n    '),
    STORE: store.join('\n  '),
    WT: vecW ? 'vec4<f32>' : 'f32',
    WDIV: vecW ? 4 : 1,
    CT: ct,
    TH: th,
  };
}

/** Runs conv2d_tile.wgsl; returns the [N, OC, OH, OW] view of the tile-padded output. */
function tileConv(c: TileConv): Tensor {
  const [N, OC, OH, OW] = c.out;
  const [KH, KW] = c.kernel;
  const [SY, SX] = c.stride;
  const [DY, DX] = c.dilation;
  const ocg = OC / c.groups;
  const rc = c.wp.shape[1];
  const info = c.src.device.info;
  const software = info.family === 'software';
  // lavapipe loads storage one lane at a time, the weights included although every lane of a
  // workgroup reads the same ones: sharing them by subgroupBroadcast halved the forward's time.
  const share = shareLoads(info);
  // 16 channels per thread pay off where the weights are shared (without subgroups, on Dawn's
  // OpenGLES backend, 8 were 9 % faster).
  const maxCt = convTuning.ct || (software ? (share ? 16 : 8) : 4);
  const ct = [16, 8, 4, 2, 1].find((t) => t <= maxCt && ocg % t === 0)!;
  const th = convTuning.th || (software ? 4 : 2);
  const tilesY = Math.ceil(OH / th);
  const tilesX = Math.ceil(OW / 4);
  const ph = (th - 1) * SY + (KH - 1) * DY + 1;
  const nv = Math.ceil((3 * SX + (KW - 1) * DX + 1) / 4);
  const Hp = (tilesY - 1) * th * SY + ph;
  const Wp = (tilesX - 1) * 4 * SX + nv * 4;
  const OHp = tilesY * th;
  const OWp = tilesX * 4;
  const out = Tensor.empty([N, OC, OHp, OWp], c.src.device);
  const result = () => {
    if (OHp === OH && OWp === OW) return out;
    const v = new Tensor(out.storage, c.out, out.strides, 0);
    out.dispose();
    return v;
  };
  if (numel(c.out) === 0) return result();
  const xp = spread(c.src, Hp, Wp, c.pad[0], c.pad[1], c.spread[0], c.spread[1]);
  const C = c.src.shape[1];
  const b = c.bias;
  const wdiv = ct % 4 === 0 ? 4 : 1;
  const u = tileLayout.pack({
    tiles_x: tilesX, tiles_y: tilesY, tiles: N * tilesY * tilesX, RC: rc,
    OCG: ocg, has_bias: b ? 1 : 0, b_off: b?.offset ?? 0, b_s: b?.strides[0] ?? 0,
    s_n: (C * Hp * Wp) / 4, s_c: (Hp * Wp) / 4, s_h: Wp / 4, s_x: SX,
    s_y: th * SY, o_n: (OC * OHp * OWp) / 4, o_c: (OHp * OWp) / 4, o_h: OWp / 4,
    w_g: (rc * KH * KW * ocg) / wdiv, w_rc: (KH * KW * ocg) / wdiv, w_tap: ocg / wdiv,
  });
  c.src.device.dispatch({
    kernel: 'conv2d_tile',
    params: cachedParams(tileParams, `${ct},${th},${c.kernel},${c.stride},${c.dilation},${c.flip},${c.relu},${ph},${nv},${share}`, () => ({ WG, ...tileCode(ct, th, c, ph, nv, share) })),
    buffers: [xp.storage.buffer, c.wp.storage.buffer, (b ?? c.wp).storage.buffer, out.storage.buffer],
    access: 'rrrw',
    uniforms: u,
    workgroups: [...grid(Math.ceil((N * tilesY * tilesX) / WG)), OC / ct],
    label: c.label,
  });
  xp.dispose();
  return result();
}

interface ConvAttrs {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
  groups: number;
}

/** The unrolled parts of conv2d_wgrad.wgsl; `share`: gy loaded once per 8-lane subgroup (see its header). */
function wgradCode(ct: number, ci: number, kh: number, kw: number, a: ConvAttrs, nv: number, share: boolean): Record<string, string> {
  const [SY, SX] = a.stride;
  const [DY, DX] = a.dilation;
  const acc: string[] = [];
  const load: string[] = [];
  const fma: string[] = [];
  const store: string[] = [];
  if (share) {
    // `same` (SAME_CHECK): whether the subgroup's lanes really share chunk and output channels;
    // WGSL does not promise how invocations map to subgroups, so otherwise each lane loads.
    for (let q = 0; q < ct; q++) load.push(`var g${q}: vec4<f32>;`);
    load.push(`if (same) {`, `  let gl = gy[gb + i32(min(sg8, ${ct - 1}u)) * p.g_c];`);
    for (let q = 0; q < ct; q++) load.push(`  g${q} = subgroupBroadcast(gl, ${q}u);`);
    load.push(`} else {`);
    for (let q = 0; q < ct; q++) load.push(`  g${q} = gy[gb + ${q} * p.g_c];`);
    load.push(`}`);
  } else {
    for (let q = 0; q < ct; q++) load.push(`let g${q} = gy[gb + ${q} * p.g_c];`);
  }
  for (let c = 0; c < ci; c++) for (let ky = 0; ky < kh; ky++) for (let v = 0; v < nv; v++) {
    load.push(`let r${c}_${ky}_${v} = x[xb + ${c} * p.x_c + ${ky * DY} * p.x_h + ${v}];`);
  }
  for (let q = 0; q < ct; q++) for (let c = 0; c < ci; c++) for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
    const name = `a${q}_${c}_${ky}_${kx}`;
    acc.push(`var ${name} = 0.0;`);
    const cols = [0, 1, 2, 3].map((e) => kx * DX + e * SX).map((col) => `r${c}_${ky}_${col >> 2}.${XYZW[col & 3]}`);
    fma.push(`${name} += dot(g${q}, vec4<f32>(${cols.join(', ')}));`);
    store.push(`part[pb + ${q} * p.cols + ${(c * kh + ky) * kw + kx}] = ${name};`);
  }
  return {
    ...subgroupParams(share),
    SAME_CHECK: share ? 'let same = subgroupAll(subgroupBroadcast(id / p.nci, 0u) == id / p.nci);' : '',
    ACC: acc.join(' '), LOAD: load.join('\n    '), FMA: fma.join('\n    '), STORE: store.join('\n  '),
  };
}

/** Weight gradient [Cout, Cin/groups, kh, kw] from x and the output gradient gy. */
function weightGrad(x: Tensor, gy: Tensor, wShape: readonly number[], a: ConvAttrs): Tensor {
  const [N, Cout, OH, OW] = gy.shape;
  const [, RC, KH, KW] = wShape;
  const [SY, SX] = a.stride;
  const [DY, DX] = a.dilation;
  const G = a.groups;
  const ocg = Cout / G;
  const software = x.device.info.family === 'software';
  const sharing = shareLoads(x.device.info);
  const ct = [8, 4, 2, 1].find((t) => t <= (convTuning.wgradCt || (software ? 8 : 4)) && ocg % t === 0)!;
  // 1 input channel per thread where gy is shared across the subgroup (2 without subgroups: 6 %
  // faster on Dawn's OpenGLES backend, which loads more gy per input channel then).
  const ci = [4, 2, 1].find((t) => t <= (convTuning.wgradCi || (software && sharing ? 1 : 2)) && RC % t === 0)!;
  const tilesX = Math.ceil(OW / 4);
  const nv = Math.ceil((3 * SX + (KW - 1) * DX + 1) / 4);
  const Hp = (OH - 1) * SY + (KH - 1) * DY + 1;
  const Wp = (tilesX - 1) * 4 * SX + nv * 4;
  const OWp = tilesX * 4;
  const cols = RC * KH * KW;
  const tiles = N * OH * tilesX;
  const perChunk = G * (ocg / ct) * (RC / ci);
  // Threads run input-channel blocks fastest: with a multiple of 8 of them, the 8 lanes of a
  // subgroup share chunk and output channels, hence every gy load.
  const share = sharing && ct <= 8 && (RC / ci) % 8 === 0;
  // Enough threads to fill the machine, each with a long enough walk.
  const target = convTuning.wgradThreads || (software ? 4096 : 32768);
  const chunks = Math.max(1, Math.min(Math.ceil(target / perChunk), Math.floor(tiles / 16)));
  const chunk = Math.ceil(tiles / chunks);
  const S = Math.ceil(tiles / chunk);
  const xp = spread(x, Hp, Wp, a.padding[0], a.padding[1], 1, 1);
  const gp = gy.isContiguous && OWp === OW ? gy : spread(gy, OH, OWp, 0, 0, 1, 1);
  const part = Tensor.empty([S, Cout, cols], x.device);
  const threads = S * perChunk;
  const u = wgradLayout.pack({
    tiles_x: tilesX, OH, tiles, chunk, OC: Cout, OCG: ocg, RC, cols,
    nct: ocg / ct, nci: RC / ci, G, threads,
    g_n: (Cout * OH * OWp) / 4, g_c: (OH * OWp) / 4, g_h: OWp / 4, x_n: (x.shape[1] * Hp * Wp) / 4,
    x_c: (Hp * Wp) / 4, x_h: Wp / 4, x_sx: SX, x_sy: SY, CT: ct, CI: ci,
  });
  x.device.dispatch({
    kernel: 'conv2d_wgrad',
    params: cachedParams(wgradParams, `${ct},${ci},${KH},${KW},${a.stride},${a.dilation},${nv},${share}`, () => ({ WG, ...wgradCode(ct, ci, KH, KW, a, nv, share) })),
    buffers: [gp.storage.buffer, xp.storage.buffer, part.storage.buffer],
    access: 'rrw',
    uniforms: u,
    workgroups: grid(Math.ceil(threads / WG)),
    label: 'conv2d.backward(weight)',
  });
  xp.dispose();
  if (gp !== gy) gp.dispose();
  const total = S === 1 ? part : sum(part, 0);
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
  if (Cout % groups !== 0) throw new Error(`${op}: output channels ${Cout} (weight ${fmt(weight.shape)}) are not divisible by groups=${groups}`);
  if (cinG * groups !== Cin) {
    throw new Error(`${op}: channel mismatch: input ${fmt(x.shape)} has ${Cin} channels but weight ${fmt(weight.shape)} expects ${cinG}${groups > 1 ? ` × groups ${groups} = ${cinG * groups}` : ''}`);
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== Cout)) throw new Error(`${op}: bias must have shape [${Cout}] for weight ${fmt(weight.shape)}, got ${fmt(bias.shape)}`);
  const { activation } = opts;
  if (activation !== undefined && activation !== 'relu') throw new Error(`${op}: unknown activation '${String(activation)}' (supported: 'relu')`);
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
    src: x, pad: a.padding, spread: [1, 1], wp: wf, bias: bias ?? null, out: [N, Cout, OH, OW], groups: G,
    kernel: [KH, KW], stride: a.stride, dilation: a.dilation, flip: false, relu, label: op,
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
        src: gy, pad, spread: a.stride, wp: wb, bias: null, out: [N, Cin, H, W], groups: G,
        kernel: [KH, KW], stride: [1, 1], dilation: a.dilation, flip: true, relu: false, label: 'conv2d.backward(input)',
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
