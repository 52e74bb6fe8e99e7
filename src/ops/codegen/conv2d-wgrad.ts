// conv2d_wgrad, the kernel of conv2d's weight gradient, in one place: its WGSL skeleton (the
// header inside explains the kernel), its uniform layout, the generator of its unrolled pieces
// and the geometry it needs (padded input and output gradient, chunks of the reduction).

import { UniformLayout } from '../../device/uniform-layout.ts';
import { registerKernelSource, cachedParams, type KernelParams } from '../../device/kernel-sources.ts';
import type { DispatchSpec } from '../../device/device.ts';
import { grid } from '../grid.ts';
import { subgroupHoles, XYZW } from './conv2d-tile.ts';

const WG = 64;
const i32 = 'i32' as const;

/** conv2d_wgrad's uniforms. */
// prettier-ignore
export const wgradLayout = new UniformLayout(['conv2d_wgrad'], {
  tiles_x: i32, OH: i32, tiles: i32, chunk: i32, // 4-pixel segments per output row, output rows, N·OH·tiles_x, segments per chunk
  OC: i32, OCG: i32, RC: i32, cols: i32,         // output channels (all, per group), input channels per group, RC·KH·KW
  nct: i32, nci: i32, G: i32, threads: i32,      // channel blocks per group (outputs / CT, inputs / CI), groups, all threads
  g_n: i32, g_c: i32, g_h: i32, x_n: i32,        // padded gy strides (vec4s); padded x strides (vec4s)
  x_c: i32, x_h: i32, x_sx: i32, x_sy: i32,      // x_sx: vec4s per segment step (= SX), x_sy: rows per output row (= SY)
  CT: i32, CI: i32,
});

const SKELETON = `// conv2d_wgrad — weight gradient of conv2d as an implicit GEMM reducing over pixels:
//
//   part[s, oc, (rc·KH + ky)·KW + kx] = Σ_{(n, oy, ox) in chunk s} gy[n, oc, oy, ox] · x[n, g·RC + rc, oy·SY + ky·DY, ox·SX + kx·DX]
//
// g = oc / OCG is the group. The reduction over N·OH·OW is long, so the host splits it into
// chunks of whole 4-pixel row segments and sums the partials [S, OC, RC·KH·KW] afterwards with
// the sum op. x is the input zero-padded by the host ([N, C, Hp, Wp], Wp a multiple of 4: no
// bounds tests), gy the output gradient padded to a multiple of 4 columns (zeros there add
// nothing); both are read as vec4s.
//
// Tiling: a thread owns CT output channels × CI input channels × all KH·KW taps (scalar
// accumulators) and walks the 4-pixel segments of its chunk; per segment it loads CT vec4s of gy
// and, per input channel and kernel row, the PW-wide input row as vec4s, then does
// CT·CI·KH·KW dot products of 4. Threads are flattened over (chunk, group, channel blocks), so
// small layers still fill the machine. No workgroup memory, no barriers (very expensive on
// lavapipe), and loads — not FMAs — set the speed there (see conv2d_tile).
//
// The host generates the unrolled pieces (constant indices keep everything in registers):
//   ACC    var a<q>_<c>_<tap> = 0.0;
//   LOAD   let g<q> = gy[gb + q·g_c];  and  let r<c>_<ky>_<v> = x[xb + c·x_c + ky·DY·x_h + v];
//   FMA    a<q>_<c>_<tap> += dot(g<q>, vec4<f32>(r.., r.., r.., r..));
//   STORE  part[pb + q·cols + c·KH·KW + tap] = a<q>_<c>_<tap>;
// Other holes: WG workgroup size.
//
// Shared gy (software adapters with subgroups, when the input-channel blocks are a multiple of 8;
// ENABLE, SG_ARG, SG_SETUP, SAME_CHECK then non-empty): threads run input-channel blocks fastest,
// so the 8 lanes of a subgroup walk the same segments for the same output channels and need the
// same CT vec4s of gy. Lane q loads the q-th and the others take it by subgroupBroadcast, instead
// of every lane loading all CT (llvmpipe loads lane by lane; see conv2d_tile). WGSL does not
// promise which invocations form a subgroup, so same checks that all lanes have the same chunk
// and output channels (id / nci); where they do not, every lane loads its own.
{{ENABLE}}

${wgradLayout.wgsl()}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gy: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wg: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>{{SG_ARG}}) {
  {{SG_SETUP}}
  let tid = i32((wg.x + wg.y * nwg.x) * {{WG}}u + lane);
  let live = tid < p.threads;
  let id = min(tid, p.threads - 1);
  let per_chunk = p.G * p.nct * p.nci;
  let s = id / per_chunk;
  var r = id - s * per_chunk;
  let g = r / (p.nct * p.nci);
  r -= g * p.nct * p.nci;
  let cb = r / p.nci;
  let ib = r - cb * p.nci;
  let oc0 = g * p.OCG + cb * p.CT;
  let ic0 = g * p.RC + ib * p.CI;
  {{SAME_CHECK}}
  // Walk segments start..end of this chunk: segment = (n, oy, tx).
  let start = s * p.chunk;
  let end = min(start + p.chunk, p.tiles);
  let per_image = p.OH * p.tiles_x;
  var n = start / per_image;
  var oy = (start - n * per_image) / p.tiles_x;
  var tx = start - n * per_image - oy * p.tiles_x;
  {{ACC}}
  for (var t = start; t < end; t++) {
    let gb = n * p.g_n + oc0 * p.g_c + oy * p.g_h + tx;
    let xb = n * p.x_n + ic0 * p.x_c + oy * p.x_sy * p.x_h + tx * p.x_sx;
    {{LOAD}}
    {{FMA}}
    tx++;
    if (tx == p.tiles_x) {
      tx = 0;
      oy++;
      if (oy == p.OH) { oy = 0; n++; }
    }
  }
  if (!live) { return; }
  let pb = (s * p.OC + oc0) * p.cols + ib * p.CI * (p.cols / p.RC);
  {{STORE}}
}
`;
registerKernelSource('conv2d_wgrad', SKELETON);

/** The skeleton's holes: what wgradHoles fills for one configuration. */
type WgradHoles = { [K in 'WG' | 'ENABLE' | 'SG_ARG' | 'SG_SETUP' | 'SAME_CHECK' | 'ACC' | 'LOAD' | 'FMA' | 'STORE']: string | number };

/** One conv2d weight gradient, in the op's terms. */
export interface WgradConv {
  /** The output gradient [N, OC, OH, OW]. */
  gy: readonly [number, number, number, number];
  /** Channels of the input x. */
  C: number;
  groups: number;
  /** Input channels per group (the weight's second dim). */
  RC: number;
  kernel: readonly [number, number];
  stride: readonly [number, number];
  dilation: readonly [number, number];
}

/**
 * Tile sizes: ct output × ci input channels per thread (most; the largest that divide the
 * channels are taken), threads (how many the reduction's chunks should make), share (gy loads
 * shared per subgroup, where the channel blocks allow).
 */
export interface WgradSizes {
  ct: number;
  ci: number;
  threads: number;
  share: boolean;
}

/** The buffers of conv2d_wgrad's bindings. */
export interface WgradBuffers {
  gy: GPUBuffer;
  x: GPUBuffer;
  part: GPUBuffer;
}

/** What conv2d_wgrad needs for a weight gradient: the padded operands, the partials' shape, and its dispatch. */
export interface WgradPlan {
  /** The zero-padded input to make: [N, C, Hp, Wp] (Wp a multiple of 4). */
  Hp: number;
  Wp: number;
  /** Columns of the output gradient as the kernel reads it: [N, OC, OH, OWp] (OWp a multiple of 4, zeros past OW). */
  OWp: number;
  /** The partial sums it writes: [chunks, OC, cols], cols = RC·KH·KW (the weight's layout). */
  chunks: number;
  cols: number;
  spec(buffers: WgradBuffers, label: string): DispatchSpec;
}

// Generated holes per configuration (cachedParams).
const paramsCache = new Map<string, KernelParams>();

/** Plans conv2d_wgrad for `c` (N·OH·OW > 0). */
export function planWgrad(c: WgradConv, sizes: WgradSizes): WgradPlan {
  const [N, OC, OH, OW] = c.gy;
  const [KH, KW] = c.kernel;
  const [SY, SX] = c.stride;
  const [DY, DX] = c.dilation;
  const { RC, groups: G } = c;
  const ocg = OC / G;
  const ct = [8, 4, 2, 1].find((t) => t <= sizes.ct && ocg % t === 0)!;
  const ci = [4, 2, 1].find((t) => t <= sizes.ci && RC % t === 0)!;
  const tilesX = Math.ceil(OW / 4);
  const nv = Math.ceil((3 * SX + (KW - 1) * DX + 1) / 4); // input vec4s per kernel row
  const Hp = (OH - 1) * SY + (KH - 1) * DY + 1;
  const Wp = (tilesX - 1) * 4 * SX + nv * 4;
  const OWp = tilesX * 4;
  const cols = RC * KH * KW;
  const tiles = N * OH * tilesX;
  const perChunk = G * (ocg / ct) * (RC / ci);
  // Threads run input-channel blocks fastest: with a multiple of 8 of them, the 8 lanes of a
  // subgroup share chunk and output channels, hence every gy load.
  const share = sizes.share && (RC / ci) % 8 === 0;
  // Enough threads to fill the machine, each with a long enough walk.
  const wanted = Math.max(1, Math.min(Math.ceil(sizes.threads / perChunk), Math.floor(tiles / 16)));
  const chunk = Math.ceil(tiles / wanted);
  const chunks = Math.ceil(tiles / chunk);
  const threads = chunks * perChunk;
  const key = `${ct},${ci},${KH},${KW},${c.stride},${c.dilation},${nv},${share}`;
  const spec = (b: WgradBuffers, label: string): DispatchSpec => ({
    kernel: 'conv2d_wgrad',
    params: cachedParams(paramsCache, key, () => wgradHoles(ct, ci, c, nv, share)),
    buffers: [b.gy, b.x, b.part],
    access: 'rrw',
    uniforms: wgradLayout.pack({
      tiles_x: tilesX,
      OH,
      tiles,
      chunk,
      OC,
      OCG: ocg,
      RC,
      cols,
      nct: ocg / ct,
      nci: RC / ci,
      G,
      threads,
      g_n: (OC * OH * OWp) / 4,
      g_c: (OH * OWp) / 4,
      g_h: OWp / 4,
      x_n: (c.C * Hp * Wp) / 4,
      x_c: (Hp * Wp) / 4,
      x_h: Wp / 4,
      x_sx: SX,
      x_sy: SY,
      CT: ct,
      CI: ci,
    }),
    workgroups: grid(Math.ceil(threads / WG)),
    label,
  });
  return { Hp, Wp, OWp, chunks, cols, spec };
}

/** The unrolled pieces for ct output × ci input channels and an nv-vec4 input row; `share`: gy loaded once per 8-lane subgroup. */
function wgradHoles(ct: number, ci: number, c: WgradConv, nv: number, share: boolean): WgradHoles {
  const [kh, kw] = c.kernel;
  const SX = c.stride[1];
  const [DY, DX] = c.dilation;
  const acc: string[] = [];
  const load: string[] = [];
  const fma: string[] = [];
  const store: string[] = [];
  if (share) {
    // same (SAME_CHECK): whether the subgroup's lanes really share chunk and output channels;
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
  for (let r = 0; r < ci; r++)
    for (let ky = 0; ky < kh; ky++)
      for (let v = 0; v < nv; v++) {
        load.push(`let r${r}_${ky}_${v} = x[xb + ${r} * p.x_c + ${ky * DY} * p.x_h + ${v}];`);
      }
  for (let q = 0; q < ct; q++)
    for (let r = 0; r < ci; r++)
      for (let ky = 0; ky < kh; ky++)
        for (let kx = 0; kx < kw; kx++) {
          const name = `a${q}_${r}_${ky}_${kx}`;
          acc.push(`var ${name} = 0.0;`);
          const cols = [0, 1, 2, 3].map((e) => kx * DX + e * SX).map((col) => `r${r}_${ky}_${col >> 2}.${XYZW[col & 3]}`);
          fma.push(`${name} += dot(g${q}, vec4<f32>(${cols.join(', ')}));`);
          store.push(`part[pb + ${q} * p.cols + ${(r * kh + ky) * kw + kx}] = ${name};`);
        }
  return {
    WG,
    ...subgroupHoles(share),
    SAME_CHECK: share ? 'let same = subgroupAll(subgroupBroadcast(id / p.nci, 0u) == id / p.nci);' : '',
    ACC: acc.join(' '),
    LOAD: load.join('\n    '),
    FMA: fma.join('\n    '),
    STORE: store.join('\n  '),
  };
}
