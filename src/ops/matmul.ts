// matmul with torch.matmul semantics: 1-D operands are promoted (and the added dim removed
// afterwards), batch dims broadcast. The kernel is chosen per adapter and shape:
//   vec4    kernels/matmul_vec4.wgsl — software adapters (lavapipe): subgroup-shared vec4 loads,
//           no barriers; needs K and the operands' strides/offsets to be multiples of 4.
//   tiled   kernels/matmul_tiled_db4.wgsl (vec4 loads) or matmul_tiled_db.wgsl (any strides) —
//           discrete GPUs: double-buffered shared-memory tiles + register blocking.
//   generic kernels/matmul.wgsl — any strides, any adapter; the fallback.
// All three read operands through strides, so transposed operands (x·Wᵀ, the backward's gᵀ) cost
// no copy. WGRAD_MATMUL=generic|vec4|tiled (or setMatmulKernel) forces one kernel wherever it
// applies, for tests and benchmarks; matmulPlan says what a call would run.

import { Tensor } from '../tensor.ts';
import { record } from '../autograd/graph.ts';
import { broadcastShapes, collapse, fmt, numel } from '../shape.ts';
import { Uniforms } from './uniforms.ts';
import { matmulTuning, hasSubgroupsOf8 } from './tuning.ts';
import { transpose, unsqueeze, squeeze } from './shape.ts';
import { sumTo } from './reduce.ts';
import type { Device } from '../device/device.ts';
import { cachedParams, type KernelParams } from '../device/kernel-sources.ts';

/** The matmul kernels (see the header): forced with setMatmulKernel or WGRAD_MATMUL. */
export type MatmulKernel = 'generic' | 'vec4' | 'tiled';
const KERNELS: readonly MatmulKernel[] = ['generic', 'vec4', 'tiled'];

function kernelFromEnv(): MatmulKernel | null {
  const v = typeof process === 'undefined' ? undefined : process.env?.WGRAD_MATMUL;
  if (!v || v === 'auto') return null;
  if (!(KERNELS as readonly string[]).includes(v)) throw new Error(`wgrad: WGRAD_MATMUL=${v} is not a matmul kernel (use generic, vec4, tiled or auto)`);
  return v as MatmulKernel;
}
let forced: MatmulKernel | null = kernelFromEnv();

/**
 * Forces `kernel` for every matmul it can run (the others use the generic kernel); null restores
 * the automatic choice. Returns the previous setting.
 */
export function setMatmulKernel(kernel: MatmulKernel | null): MatmulKernel | null {
  if (kernel !== null && !KERNELS.includes(kernel)) throw new Error(`setMatmulKernel: unknown kernel '${kernel}' (use ${KERNELS.join(', ')} or null)`);
  const prev = forced;
  forced = kernel;
  return prev;
}

/** One operand as a batch of [rows, cols] matrices: strides of its rows/cols and per batch dim. */
interface Operand {
  buffer: GPUBuffer;
  offset: number;
  rs: number;
  cs: number;
  bstrides: number[];
}

/** A batched product C[b] = A[b]·B[b], A [M, K], B [K, N], batch dims merged (≤ 4). */
interface Problem {
  M: number;
  N: number;
  K: number;
  bshape: number[];
  a: Operand;
  b: Operand;
}

/** What matmulRaw would run for given operands: the kernel, and its configuration or why not another. */
export interface MatmulPlan {
  kernel: MatmulKernel;
  /** e.g. 'vec4 rows=32 X_T swapped' or 'generic (K % 4 != 0)'. */
  detail: string;
}

interface Launch extends MatmulPlan {
  run: (dev: Device, out: GPUBuffer, label: string, epilogue?: Epilogue) => void;
}

/**
 * Work fused into the store of every output (linear's `x·Wᵀ + b → ReLU`): + bias[n] (a contiguous
 * [N] tensor at offset 0), then the activation.
 */
export interface Epilogue {
  bias?: Tensor | null;
  activation?: 'relu';
}

/** The kernels' {{EPILOGUE_DECL}} / {{EPILOGUE}} and the extra binding; `along` = the kernel's
 * coordinate that indexes the bias ('m' where vec4 computes Cᵀ). */
function epilogueCode(e: Epilogue | undefined, along: 'm' | 'n' = 'n'): { params: Record<string, string>; buffers: GPUBuffer[]; access: string } {
  let expr = 'v';
  if (e?.bias) expr = `v + bias[${along}]`;
  if (e?.activation === 'relu') expr = `max(${expr}, 0.0)`;
  return {
    params: { EPILOGUE_DECL: e?.bias ? '@group(0) @binding(4) var<storage, read> bias: array<f32>;' : '', EPILOGUE: expr },
    buffers: e?.bias ? [e.bias.storage.buffer] : [],
    access: e?.bias ? 'r' : '',
  };
}

// ---- generic ----------------------------------------------------------------------------------

const GENERIC_TILE = 32; // outputs per workgroup along M and N (8×8 threads × 4×4 each)

function genericLaunch(p: Problem, why = ''): Launch {
  const { M, N, a, b, bshape } = p;
  const nb = numel(bshape);
  return {
    kernel: 'generic',
    detail: `generic${why ? ` (${why})` : ''}`,
    run: (dev, out, label, epilogue) => {
      const e = epilogueCode(epilogue);
      dev.dispatch({
        kernel: 'matmul',
        params: e.params,
        buffers: [a.buffer, b.buffer, out, ...e.buffers],
        access: 'rrw' + e.access,
        uniforms: stridedUniforms(p).bytes,
        workgroups: [Math.ceil(N / GENERIC_TILE), Math.ceil(M / GENERIC_TILE), nb],
        label,
      });
    },
  };
}

/** The Params struct shared by matmul.wgsl and the matmul_tiled_db*.wgsl kernels. */
function stridedUniforms({ M, N, K, a, b, bshape }: Problem): Uniforms {
  return new Uniforms()
    .vec4u(bshape.length ? bshape : [1])
    .vec4u(a.bstrides)
    .vec4u(b.bstrides)
    .u32(M).u32(N).u32(K).u32(bshape.length)
    .u32(a.offset).u32(b.offset)
    .u32(a.rs).u32(a.cs)
    .u32(b.rs).u32(b.cs);
}

// ---- tiled (discrete GPUs) --------------------------------------------------------------------

/** Whether an operand (a rows × cols matrix per batch entry) can be read as aligned vec4s along its contiguous axis. */
function vec4Readable(o: Operand, rows: number, cols: number): boolean {
  const aligned = o.offset % 4 === 0 && o.bstrides.every((s) => s % 4 === 0);
  if (o.cs === 1) return aligned && cols % 4 === 0 && o.rs % 4 === 0;
  if (o.rs === 1) return aligned && rows % 4 === 0 && o.cs % 4 === 0;
  return false;
}

function tiledLaunch(p: Problem): Launch | string {
  const { M, N, K, bshape } = p;
  const big = M >= 128 && N >= 128 && matmulTuning.tile !== 64;
  const tile = big ? 128 : 64;
  const gx = Math.ceil(N / tile);
  const gy = Math.ceil(M / tile);
  if (gx > 65535 || gy > 65535) return 'too many tiles';
  const bk = matmulTuning.bk || (big ? 8 : 16);
  const R = big ? 2 : 1;
  // db4 stages one vec4 per thread and operand or more: needs tile·bk a multiple of 1024.
  const db4 = matmulTuning.tiled === 'db4' && (tile * bk) % 1024 === 0 && vec4Readable(p.a, M, K) && vec4Readable(p.b, K, N);
  const variant = db4 ? 'db4' : 'db';
  return {
    kernel: 'tiled',
    detail: `tiled-${variant} ${tile}x${tile} bk ${bk}`,
    run: (dev, out, label, epilogue) => {
      const e = epilogueCode(epilogue);
      dev.dispatch({
        kernel: `matmul_tiled_${variant}`,
        params: { R, BK: bk, ...e.params },
        buffers: [p.a.buffer, p.b.buffer, out, ...e.buffers],
        access: 'rrw' + e.access,
        uniforms: stridedUniforms(p).bytes,
        workgroups: [gx, gy, numel(bshape)],
        label,
      });
    },
  };
}

// ---- vec4 (software adapters) -----------------------------------------------------------------

interface Layout {
  /** X: m contiguous (else k); Y: k contiguous (else n). */
  t: boolean;
  /** The other stride, in vec4 units. */
  ld: number;
}

/** X [M, K] with strides (sm, sk): k contiguous, or m contiguous (X_T). */
function xLayout(M: number, sm: number, sk: number): Layout | null {
  if (sk === 1 && (M === 1 || sm % 4 === 0)) return { t: false, ld: M === 1 ? 0 : sm / 4 };
  if ((sm === 1 || M === 1) && sk % 4 === 0) return { t: true, ld: sk / 4 };
  return null;
}

/** Y [K, N] with strides (sk, sn): n contiguous, or k contiguous (Y_T). */
function yLayout(N: number, sk: number, sn: number): Layout | null {
  if ((sn === 1 || N === 1) && sk % 4 === 0) return { t: false, ld: sk / 4 };
  if (sk === 1 && (N === 1 || sn % 4 === 0)) return { t: true, ld: N === 1 ? 0 : sn / 4 };
  return null;
}

const aligned = (o: Operand) => o.offset % 4 === 0 && o.bstrides.every((s) => s % 4 === 0);

/** The unrolled pieces of matmul_vec4.wgsl (see its header) for one (rows, X_T, Y_T). */
function vec4Source(rows: number, xt: boolean, yt: boolean): Record<string, string | number> {
  const setup: string[] = [];
  const load: string[] = [];
  const fma: string[] = [];
  const store: string[] = [];
  const kk = [0, 1, 2, 3];
  if (xt) {
    setup.push('let xm = xb + min(m0 / 4u + lane, (p.M - 1u) / 4u);');
    for (const i of kk) load.push(`let x${i} = X[xm + (4u * k4 + ${i}u) * p.ldx];`);
  } else {
    for (let q = 0; q < rows / 8; q++) {
      setup.push(`let xr${q} = xb + min(m0 + lane + ${8 * q}u, p.M - 1u) * p.ldx;`);
      load.push(`let x${q} = X[xr${q} + k4];`);
    }
  }
  if (yt) {
    for (const c of kk) {
      setup.push(`let yc${c} = yb + min(n0 + 4u * lane + ${c}u, p.N - 1u) * p.ldy;`);
      load.push(`let yt${c} = Y[yc${c} + k4];`);
    }
    for (const i of kk) load.push(`let y${i} = vec4<f32>(yt0[${i}], yt1[${i}], yt2[${i}], yt3[${i}]);`);
  } else {
    setup.push('let yn = yb + min(n0 / 4u + lane, (p.N - 1u) / 4u);');
    for (const i of kk) load.push(`let y${i} = Y[yn + (4u * k4 + ${i}u) * p.ldy];`);
  }
  for (let r = 0; r < rows; r++) {
    // The 4 k values of row r: a vec4 loaded by lane r % 8 (X), or component r % 4 of the vec4s
    // loaded by lane r / 4 for each k (X_T).
    const a = xt
      ? `vec4<f32>(${kk.map((i) => `subgroupBroadcast(x${i}[${r % 4}], ${r >> 2}u)`).join(', ')})`
      : `subgroupBroadcast(x${r >> 3}, ${r % 8}u)`;
    fma.push(`{ let a = ${a}; acc${r} += a.x * y0 + a.y * y1 + a.z * y2 + a.w * y3; }`);
    store.push(`if (m0 + ${r}u < p.M) { store4(cb + (m0 + ${r}u) * p.sc_m, m0 + ${r}u, nc, acc${r}); }`);
  }
  const acc = Array.from({ length: rows }, (_, r) => `var acc${r} = vec4<f32>();`);
  setup.push('let nc = n0 + 4u * lane;');
  const ind = '\n  ';
  return {
    ROWS: rows,
    SETUP: setup.join(ind),
    ACC: acc.join(ind),
    LOAD: load.join(ind + '  '),
    FMA: fma.join(ind + '  '),
    STORE: store.join(ind),
  };
}

// The vec4 kernel's unrolled pieces per (rows, layouts), and its params with each epilogue
// (cachedParams: one object per combination).
const vec4Sources = new Map<string, KernelParams>();
const vec4Params = new Map<string, KernelParams>();

function vec4Launch(dev: Device, p: Problem): Launch | string {
  const info = dev.info;
  if (!hasSubgroupsOf8(info)) return `adapter has no subgroups of ≥ 8 lanes (subgroupMinSize ${info.subgroupMinSize})`;
  const { M, N, K, a, b, bshape } = p;
  if (K % 4 !== 0) return 'K % 4 != 0';
  if (!aligned(a) || !aligned(b)) return 'offsets or batch strides not multiples of 4';
  // Cᵀ = Bᵀ·Aᵀ when N is small: the tile is (rows) × 32 columns, so a few columns waste lanes.
  const rowsFor = (m: number) => (m <= 8 ? 8 : m <= 16 ? 16 : 32);
  const padded = (m: number, n: number) => Math.ceil(m / rowsFor(m)) * rowsFor(m) * Math.ceil(n / 32) * 32;
  const plain = { x: xLayout(M, a.rs, a.cs), y: yLayout(N, b.rs, b.cs) };
  const swapped = { x: xLayout(N, b.cs, b.rs), y: yLayout(M, a.cs, a.rs) };
  const canPlain = plain.x && plain.y;
  const canSwap = swapped.x && swapped.y;
  const swap = canSwap && (!canPlain || padded(N, M) < padded(M, N));
  if (!canPlain && !swap) return 'operand strides not vec4-readable';
  const [m, n, xo, yo, xl, yl] = swap ? [N, M, b, a, swapped.x!, swapped.y!] : [M, N, a, b, plain.x!, plain.y!];
  const rows = rowsFor(m);
  const gx = Math.ceil(m / rows);
  const gy = Math.ceil(n / 32);
  if (gx > 65535 || gy > 65535) return 'too many tiles';
  const key = `${rows}${xl.t ? 'T' : 'N'}${yl.t ? 'T' : 'N'}`;
  const params = cachedParams(vec4Sources, key, () => vec4Source(rows, xl.t, yl.t));
  return {
    kernel: 'vec4',
    detail: `vec4 rows=${rows}${xl.t ? ' X_T' : ''}${yl.t ? ' Y_T' : ''}${swap ? ' swapped' : ''}`,
    run: (d, out, label, epilogue) => {
      const e = epilogueCode(epilogue, swap ? 'm' : 'n');
      const u = new Uniforms()
        .vec4u(bshape.length ? bshape : [1])
        .vec4u(xo.bstrides.map((s) => s / 4))
        .vec4u(yo.bstrides.map((s) => s / 4))
        .u32(m).u32(n).u32(K).u32(bshape.length)
        .u32(xo.offset / 4).u32(yo.offset / 4)
        .u32(xl.ld).u32(yl.ld)
        .u32(swap ? 1 : N).u32(swap ? N : 1)
        .u32(M * N);
      d.dispatch({
        kernel: 'matmul_vec4',
        params: cachedParams(vec4Params, `${key}|${e.params.EPILOGUE_DECL}|${e.params.EPILOGUE}`, () => ({ ...params, ...e.params })),
        buffers: [xo.buffer, yo.buffer, out, ...e.buffers],
        access: 'rrw' + e.access,
        uniforms: u.bytes,
        workgroups: [gx, gy, numel(bshape)],
        label,
      });
    },
  };
}

// ---- choice -----------------------------------------------------------------------------------

function choose(dev: Device, p: Problem): Launch {
  const nb = numel(p.bshape);
  if (nb > 65535) throw new Error(`matmul: ${nb} batch entries exceed the 65535 the kernels support`);
  const want: MatmulKernel = forced ?? (dev.info.family === 'software' ? 'vec4' : 'tiled');
  if (want === 'generic') return genericLaunch(p);
  // Tiny products: one generic dispatch is as good as anything on a GPU.
  if (!forced && want === 'tiled' && (p.M < 32 || p.N < 32)) return genericLaunch(p, 'small output');
  const l = want === 'vec4' ? vec4Launch(dev, p) : tiledLaunch(p);
  return typeof l === 'string' ? genericLaunch(p, `${want}: ${l}`) : l;
}

function problem(label: string, a: Tensor, b: Tensor): { p: Problem; batch: number[] } {
  const M = a.shape[a.ndim - 2];
  const K = a.shape[a.ndim - 1];
  const N = b.shape[b.ndim - 1];
  const batch = broadcastShapes(label, a.shape.slice(0, -2), b.shape.slice(0, -2));
  const bstr = (t: Tensor) => {
    const lead = batch.length - (t.ndim - 2);
    return batch.map((d, i) => (i < lead || t.shape[i - lead] === 1 ? 0 : t.strides[i - lead]));
  };
  const c = collapse(batch, [bstr(a), bstr(b), batch.map((_, i) => M * N * numel(batch.slice(i + 1)))]);
  if (c.shape.length > 4) throw new Error(`${label}: batch dims ${fmt(batch)} are too irregular (more than 4 after merging)`);
  const op = (t: Tensor, strides: number[]): Operand => ({
    buffer: t.storage.buffer,
    offset: t.offset,
    rs: t.strides[t.ndim - 2],
    cs: t.strides[t.ndim - 1],
    bstrides: strides,
  });
  return { p: { M, N, K, bshape: c.shape, a: op(a, c.strides[0]), b: op(b, c.strides[1]) }, batch };
}

/** Which kernel matmulRaw(a, b) would run (a [..., M, K], b [..., K, N]), and why. */
export function matmulPlan(a: Tensor, b: Tensor): MatmulPlan {
  const { p } = problem('matmulPlan', a, b);
  const { kernel, detail } = choose(a.device, p);
  return { kernel, detail };
}

/**
 * C[b] = A[b] · B[b] for 2-D-or-more views with broadcast batch dims; no autograd. `epilogue`
 * fuses + bias (see epilogueFits) and an activation into the kernel's store.
 */
export function matmulRaw(a: Tensor, b: Tensor, label = 'matmul', epilogue?: Epilogue): Tensor {
  const { p, batch } = problem(label, a, b);
  if (epilogue?.bias && !epilogueFits(epilogue.bias, p.N)) throw new Error(`wgrad internal: ${label}: bias ${fmt(epilogue.bias.shape)} cannot be fused (needs a contiguous [${p.N}] at offset 0)`);
  const out = Tensor.empty([...batch, p.M, p.N], a.device);
  if (p.M * p.N * numel(batch) === 0) return out;
  if (p.K === 0) {
    genericLaunch(p).run(a.device, out.storage.buffer, label, epilogue); // zeros, then the epilogue
    return out;
  }
  choose(a.device, p).run(a.device, out.storage.buffer, label, epilogue);
  return out;
}

/** Whether `bias` can be added in a matmul epilogue for N output columns. */
export function epilogueFits(bias: Tensor, N: number): boolean {
  return bias.ndim === 1 && bias.shape[0] === N && bias.offset === 0 && bias.isContiguous;
}

/**
 * Matrix product with torch.matmul's rules: 1-D operands act as a row / column vector, leading
 * (batch) dims broadcast. Transposed views are read in place (a.matmul(b.T) copies nothing).
 *
 * @example
 * matmul(tensor([[1, 2]]), tensor([[3], [4]])); // [[11]]
 * matmul(randn([8, 2, 3]), randn([3, 5])).shape; // [8, 2, 5]
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  a.assertAlive('matmul');
  b.assertAlive('matmul');
  if (a.ndim === 0 || b.ndim === 0) throw new Error(`matmul: both operands need at least 1 dim (got ${fmt(a.shape)} and ${fmt(b.shape)}); use mul for scalars`);
  const a2 = a.ndim === 1 ? unsqueeze(a, 0) : a;
  const b2 = b.ndim === 1 ? unsqueeze(b, 1) : b;
  const K = a2.shape[a2.ndim - 1];
  if (b2.shape[b2.ndim - 2] !== K) {
    throw new Error(`matmul: shapes ${fmt(a.shape)} and ${fmt(b.shape)} are not aligned: ${K} (last dim of the first) != ${b2.shape[b2.ndim - 2]} (${b.ndim === 1 ? 'only' : 'second-to-last'} dim of the second)`);
  }
  const [ba, bb] = [a2.shape.slice(0, -2), b2.shape.slice(0, -2)];
  for (let i = 1; i <= Math.min(ba.length, bb.length); i++) {
    const [da, db] = [ba[ba.length - i], bb[bb.length - i]];
    if (da !== db && da !== 1 && db !== 1) throw new Error(`matmul: shapes ${fmt(a.shape)} and ${fmt(b.shape)}: batch dims ${fmt(ba)} and ${fmt(bb)} cannot be broadcast together`);
  }
  let out = matmulRaw(a2, b2);
  out = record(out, 'matmul', [a2, b2], {}, (g) => {
    const ga = matmulRaw(g, transpose(b2, -2, -1), 'matmul.backward');
    const gb = matmulRaw(transpose(a2, -2, -1), g, 'matmul.backward');
    return [sumTo(ga, a2.shape), sumTo(gb, b2.shape)];
  });
  const temps: Tensor[] = [];
  if (a.ndim === 1) {
    temps.push(out);
    out = squeeze(out, -2);
  }
  if (b.ndim === 1) {
    temps.push(out);
    out = squeeze(out, -1);
  }
  // Without a graph, nothing refers to the promoted operands or the unsqueezed result any more.
  if (!out.node) for (const t of [...temps, a2, b2]) if (t !== a && t !== b) t.dispose();
  return out;
}

