// The vec4 matmul kernel for software adapters (lavapipe): its WGSL skeleton, the generator of the
// unrolled pieces, and the launch that picks rows and layouts (src/ops/matmul.ts calls vec4Launch).
// Its uniform struct and epilogue are the shared pieces every matmul kernel includes
// (kernels/matmul_params.wgsl, matmul_epilogue.wgsl; layout: matmulLayout in ../matmul-launch.ts).

import { numel } from '../../shape.ts';
import type { Device } from '../../device/device.ts';
import { cachedParams, registerKernelSource, type KernelParams } from '../../device/kernel-sources.ts';
import { hasSubgroupsOf8 } from '../tuning.ts';
import { epilogueCode, matmulLayout, type Launch, type Operand, type Problem } from '../matmul-launch.ts';

const SKELETON = `// matmul_vec4 — C[b] = X[b] · Y[b] for software adapters (Mesa lavapipe / llvmpipe).
//
// Why this shape: llvmpipe runs the 8 invocations of a subgroup as the 8 lanes of one AVX2
// vector, and it loads from a storage buffer one lane at a time, while arithmetic is 8 lanes per
// instruction. So the kernel minimises loaded elements per multiply-add: every element is loaded
// by exactly one lane and shared with subgroupBroadcast, which costs a register extract. One
// workgroup = one subgroup of 8 lanes computes a tile of ROWS rows × 32 columns: lane l owns
// columns n0 + 4l .. n0 + 4l + 3 (one vec4 accumulator per row). Per step of 4 k values each lane
// loads 4 vec4s of Y (its 4 columns × 4 k) and ROWS/8 vec4s of X, then each row's 4 X values are
// broadcast from the lane that loaded them: ROWS × 4 vec4 multiply-adds per lane per step. No
// workgroup memory and no barriers (a barrier switches coroutines in llvmpipe). Loops over rows
// are unrolled by the generator because subgroupBroadcast needs a constant lane, and because
// llvmpipe spills indexed arrays to memory. Workgroup x walks the rows, so consecutive workgroups
// reuse the same 32 columns of Y from cache.
//
// Layouts (the generator writes the pieces for the one at hand): X is [M, K] with k contiguous,
// or with m contiguous (X_T, a transposed view: lane l loads rows m0 + 4l .. 4l + 3 for each of
// the 4 k, and row r comes from lane r / 4, component r % 4); Y is [K, N] with n contiguous, or
// with k contiguous (Y_T, e.g. Wᵀ in x·Wᵀ: lane l loads its 4 columns as vec4s along k).
// X and Y are p's A and B, in vec4 units (kernels/matmul_params.wgsl). All their strides and
// offsets are multiples of 4 and K is a multiple of 4 (vec4Launch checks; otherwise matmul.ts
// uses matmul.wgsl). Rows and columns past the edge are clamped for loading and skipped for
// writing. C is written through strides (sc_m, sc_n), so vec4Launch can compute Cᵀ = Yᵀ·Xᵀ when
// N is small and M large.
// Generated pieces: SETUP (per-lane row/column indices), ACC (ROWS vec4 accumulators), LOAD (this
// lane's share of X and Y for 4 k values), FMA (broadcast + multiply-add per row), STORE.

enable subgroups;

//! include matmul_params
//! include matmul_epilogue

@group(0) @binding(1) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> Y: array<vec4<f32>>;

// Stores columns nc .. nc + 3 of row m of C (those inside N).
fn store4(batch: u32, m: u32, nc: u32, v: vec4<f32>) {
  for (var c = 0u; c < 4u; c++) {
    if (nc + c < p.N) { store_c(batch, m, nc + c, v[c]); }
  }
}

@compute @workgroup_size(8, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let batch = wg.z;
  let bases = batch_bases(batch);
  let xb = bases.x;
  let yb = bases.y;
  let m0 = wg.x * {{ROWS}}u;
  let n0 = wg.y * 32u;
  let K4 = p.K / 4u;
  {{SETUP}}
  {{ACC}}
  for (var k4 = 0u; k4 < K4; k4++) {
    {{LOAD}}
    {{FMA}}
  }
  {{STORE}}
}
`;

registerKernelSource('matmul_vec4', SKELETON);

/** The unrolled pieces of the skeleton for one (rows, X_T, Y_T). */
export function vec4Source(rows: number, xt: boolean, yt: boolean): Record<string, string | number> {
  const setup: string[] = [];
  const load: string[] = [];
  const fma: string[] = [];
  const store: string[] = [];
  const kk = [0, 1, 2, 3];
  if (xt) {
    setup.push('let xm = xb + min(m0 / 4u + lane, (p.M - 1u) / 4u);');
    for (const i of kk) load.push(`let x${i} = X[xm + (4u * k4 + ${i}u) * p.sa_k];`);
  } else {
    for (let q = 0; q < rows / 8; q++) {
      setup.push(`let xr${q} = xb + min(m0 + lane + ${8 * q}u, p.M - 1u) * p.sa_m;`);
      load.push(`let x${q} = X[xr${q} + k4];`);
    }
  }
  if (yt) {
    for (const c of kk) {
      setup.push(`let yc${c} = yb + min(n0 + 4u * lane + ${c}u, p.N - 1u) * p.sb_n;`);
      load.push(`let yt${c} = Y[yc${c} + k4];`);
    }
    for (const i of kk) load.push(`let y${i} = vec4<f32>(yt0[${i}], yt1[${i}], yt2[${i}], yt3[${i}]);`);
  } else {
    setup.push('let yn = yb + min(n0 / 4u + lane, (p.N - 1u) / 4u);');
    for (const i of kk) load.push(`let y${i} = Y[yn + (4u * k4 + ${i}u) * p.sb_k];`);
  }
  for (let r = 0; r < rows; r++) {
    // The 4 k values of row r: a vec4 loaded by lane r % 8 (X), or component r % 4 of the vec4s
    // loaded by lane r / 4 for each k (X_T).
    const a = xt
      ? `vec4<f32>(${kk.map((i) => `subgroupBroadcast(x${i}[${r % 4}], ${r >> 2}u)`).join(', ')})`
      : `subgroupBroadcast(x${r >> 3}, ${r % 8}u)`;
    fma.push(`{ let a = ${a}; acc${r} += a.x * y0 + a.y * y1 + a.z * y2 + a.w * y3; }`);
    store.push(`if (m0 + ${r}u < p.M) { store4(batch, m0 + ${r}u, nc, acc${r}); }`);
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

interface OperandLayout {
  /** X: m contiguous (else k); Y: k contiguous (else n). */
  t: boolean;
  /** The other stride, in vec4 units. */
  ld: number;
}

/** X [M, K] with strides (sm, sk): k contiguous, or m contiguous (X_T). */
function xLayout(M: number, sm: number, sk: number): OperandLayout | null {
  if (sk === 1 && (M === 1 || sm % 4 === 0)) return { t: false, ld: M === 1 ? 0 : sm / 4 };
  if ((sm === 1 || M === 1) && sk % 4 === 0) return { t: true, ld: sk / 4 };
  return null;
}

/** Y [K, N] with strides (sk, sn): n contiguous, or k contiguous (Y_T). */
function yLayout(N: number, sk: number, sn: number): OperandLayout | null {
  if ((sn === 1 || N === 1) && sk % 4 === 0) return { t: false, ld: sk / 4 };
  if (sk === 1 && (N === 1 || sn % 4 === 0)) return { t: true, ld: N === 1 ? 0 : sn / 4 };
  return null;
}

const aligned = (o: Operand) => o.offset % 4 === 0 && o.bstrides.every((s) => s % 4 === 0);

// The skeleton's unrolled pieces per (rows, layouts), and its params with each epilogue
// (cachedParams: one object per combination).
const vec4Sources = new Map<string, KernelParams>();
const vec4Params = new Map<string, KernelParams>();

/** The vec4 kernel for `p`, or why it cannot run on this adapter or these operands. */
export function vec4Launch(dev: Device, p: Problem): Launch | string {
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
      // X and Y in vec4 units; the stride of each one's contiguous axis is not read (1).
      const u = matmulLayout.pack({
        bshape: bshape.length ? bshape : [1],
        a_bstride: xo.bstrides.map((s) => s / 4),
        b_bstride: yo.bstrides.map((s) => s / 4),
        M: m,
        N: n,
        K,
        brank: bshape.length,
        a_offset: xo.offset / 4,
        b_offset: yo.offset / 4,
        sa_m: xl.t ? 1 : xl.ld,
        sa_k: xl.t ? xl.ld : 1,
        sb_k: yl.t ? 1 : yl.ld,
        sb_n: yl.t ? yl.ld : 1,
        sc_m: swap ? 1 : N,
        sc_n: swap ? N : 1,
        c_bstride: M * N,
      });
      d.dispatch({
        kernel: 'matmul_vec4',
        params: cachedParams(vec4Params, `${key}|${e.params.EPILOGUE_DECL}|${e.params.EPILOGUE}`, () => ({ ...params, ...e.params })),
        buffers: [xo.buffer, yo.buffer, out, ...e.buffers],
        access: 'rrw' + e.access,
        uniforms: u,
        workgroups: [gx, gy, numel(bshape)],
        label,
      });
    },
  };
}
