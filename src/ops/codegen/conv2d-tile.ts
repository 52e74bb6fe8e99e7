// conv2d_tile, the kernel of conv2d's forward and input gradient, in one place: its WGSL skeleton
// (the header inside explains the kernel), its uniform layout, the generator of its unrolled
// pieces and the geometry it needs (padded source, tile-rounded output, workgroups).

import { UniformLayout, type PackedUniforms } from '../../device/uniform-layout.ts';
import { registerKernelSource, cachedParams, type KernelParams } from '../../device/kernel-sources.ts';
import type { DispatchSpec } from '../../device/device.ts';
import { grid } from '../grid.ts';

const WG = 64;
const i32 = 'i32' as const;

/** conv2d_tile's uniforms. */
// prettier-ignore
export const tileLayout = new UniformLayout(['conv2d_tile'], {
  tiles_x: i32, tiles_y: i32, tiles: i32, RC: i32, // tiles per row / per column of an image, N·tiles_y·tiles_x, reduced channels per group
  OCG: i32, has_bias: i32, b_off: i32, b_s: i32,   // output channels per group; bias view
  s_n: i32, s_c: i32, s_h: i32, s_x: i32,          // padded source strides in vec4s (s_x: vec4s per tile step along a row)
  s_y: i32, o_n: i32, o_c: i32, o_h: i32,          // s_y: source rows per tile step down; output strides in vec4s
  w_g: i32, w_rc: i32, w_tap: i32,                 // packed weight strides in WT elements: per group, channel, tap
});

const SKELETON = `// conv2d_tile — direct 2-D convolution as an implicit GEMM (no im2col buffer) with a register
// tile, for the forward pass and for the input gradient (a stride-1 convolution):
//
//   out[n, oc, oy, ox] = bias[oc] + Σ_{rc, ky, kx} src[n, g·RC + rc, oy·SY + ky·DY, ox·SX + kx·DX] · W[g, rc, ky', kx', oc − g·OCG]
//
// g = oc / OCG is the group. src is the input already zero-padded by the host (so there are no
// bounds tests: every read is in range) to [N, C, Hp, Wp] with Wp a multiple of 4; wt is the
// weight packed by the host as [G, RC, KH, KW, OCG] (output channels innermost, so CT of them are
// CT/4 vec4 loads); out is [N, OC, OHp, OWp], the output rounded up to whole tiles (the host
// returns the [.., OH, OW] view of it). ky' = ky, or KH − 1 − ky for the input gradient, which
// runs on the padded output gradient with the weight transposed (taps flipped).
//
// Tiling: a thread computes CT output channels × TH rows × 4 columns (vec4 accumulators). Per
// reduced channel it loads the PH × PW input patch its tile needs as vec4s (a 3×3 kernel with
// TH = 4: 6 rows × 2 vec4) and CT/4 vec4 weights per tap, then does CT·TH·KH·KW vec4 FMAs. On
// lavapipe each storage load whose address is not a compile-time uniform is a per-lane loop of
// branches, so loads, not FMAs, set the speed: this tile does ~40 FMAs per load. The channel
// block is the workgroup's z index. No workgroup memory and no barriers (very expensive on
// lavapipe).
//
// The host generates the unrolled pieces (all indices constant, so the patch and accumulators
// live in registers — dynamic indexing of private arrays becomes if-ladders in lavapipe):
//   ACC    var a<q>_<a> = vec4<f32>(0.0);  for each channel q < CT and tile row a < TH
//   LOAD   let r<i>_<v> = src[sb + i·s_h + v];  the patch: row i, vec4 v
//   FMA    per tap: the CT weights w<q> and  a<q>_<a> += w<q> * vec4<f32>(r.., r.., r.., r..);
//   STORE  out[ob + (q·o_c + a·o_h)] = a<q>_<a> + bias;  (max(…, 0) with conv2d's activation 'relu')
// Other holes: WG workgroup size, WT the weight element type (vec4<f32> when CT is a multiple of
// 4, else f32) and WDIV its width, CT (channels per thread), TH (rows per thread).
//
// Shared weights (software adapters with subgroups; ENABLE, SG_ARG, SG_SETUP, NEIGHBOUR then
// non-empty): every lane of a workgroup needs the same weights, but llvmpipe loads them lane by
// lane, and those loads were half the kernel's time. Instead lane l of each 8-lane subgroup loads
// weight elements l, l + 8, … of the channel's KH·KW·CT (in LOAD, as wl<q>), and the FMA block
// takes element e from lane e % 8 with subgroupBroadcast (a register extract there). The input
// patch is shared too: the next lane's tile starts SX vec4s further along the same row, so vec4
// v ≥ SX of a row of this lane's patch is the next lane's vec4 v − SX (subgroupShuffleDown); only
// lanes without such a neighbour (own: last lane of the subgroup, last tile of a row) load it.
// For a 3×3 stride-1 kernel that halves the input loads.
{{ENABLE}}

${tileLayout.wgsl()}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> wt: array<{{WT}}>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;

const CT = {{CT}};

@compute @workgroup_size({{WG}})
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wg: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>{{SG_ARG}}) {
  {{SG_SETUP}}
  let per_image = p.tiles_y * p.tiles_x;
  let t = i32((wg.x + wg.y * nwg.x) * {{WG}}u + lane);
  let live = t < p.tiles;
  let tc = min(t, p.tiles - 1);
  let n = tc / per_image;
  let ty = (tc - n * per_image) / p.tiles_x;
  let tx = tc - n * per_image - ty * p.tiles_x;
  {{NEIGHBOUR}}
  let oc0 = i32(wg.z) * CT;
  let g = oc0 / p.OCG;
  var sb = n * p.s_n + g * p.RC * p.s_c + ty * p.s_y * p.s_h + tx * p.s_x;
  var wb = g * p.w_g + (oc0 - g * p.OCG) / {{WDIV}};
  {{ACC}}
  for (var rc = 0; rc < p.RC; rc++) {
    {{LOAD}}
    {{FMA}}
    sb += p.s_c;
    wb += p.w_rc;
  }
  if (!live) { return; }
  let ob = n * p.o_n + oc0 * p.o_c + ty * {{TH}} * p.o_h + tx;
  var b = array<f32, CT>();
  if (p.has_bias != 0) {
    for (var q = 0; q < CT; q++) { b[q] = bias[p.b_off + (oc0 + q) * p.b_s]; }
  }
  {{STORE}}
}
`;
registerKernelSource('conv2d_tile', SKELETON);

/** The skeleton's holes: what tileHoles fills for one configuration. */
type TileHoles = {
  [K in 'WG' | 'ENABLE' | 'SG_ARG' | 'SG_SETUP' | 'NEIGHBOUR' | 'ACC' | 'LOAD' | 'FMA' | 'STORE' | 'WT' | 'WDIV' | 'CT' | 'TH']:
    string | number;
};

/**
 * The holes that declare subgroup use (empty when not sharing), for conv2d_tile and conv2d_wgrad.
 * The kernels' loops depend on the thread index, which WGSL's uniformity analysis cannot see is
 * the same across a subgroup's lanes (it is, by how the threads are laid out), hence the
 * diagnostic directive.
 */
export const subgroupHoles = (share: boolean) => ({
  ENABLE: share ? 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);' : '',
  SG_ARG: share ? ', @builtin(subgroup_invocation_id) sg_lane: u32, @builtin(subgroup_size) sg_size: u32' : '',
  SG_SETUP: share ? 'let sg8 = sg_lane % 8u;' : '',
});
export const XYZW = 'xyzw';

/** One conv2d_tile dispatch, in the op's terms. */
export interface TileConv {
  /** The output [N, OC, OH, OW]. */
  out: readonly [number, number, number, number];
  /** Channels of the source (input, or output gradient). */
  C: number;
  groups: number;
  /** Reduced channels per group (the packed weight's RC). */
  RC: number;
  kernel: readonly [number, number];
  stride: readonly [number, number];
  dilation: readonly [number, number];
  /** Taps flipped (the input gradient). */
  flip: boolean;
  /** ReLU in the store (the forward's `activation: 'relu'`). */
  relu: boolean;
  /** The bias view (element offset and stride), or null. */
  bias: { offset: number; stride: number } | null;
}

/** Tile sizes: ct (most output channels per thread), th (rows per thread), share (subgroup loads). */
export interface TileSizes {
  ct: number;
  th: number;
  share: boolean;
}

/** The buffers of conv2d_tile's bindings. */
export interface TileBuffers {
  src: GPUBuffer;
  wt: GPUBuffer;
  bias: GPUBuffer | null;
  out: GPUBuffer;
}

/** What conv2d_tile needs for a convolution: the padded source and tile-rounded output it works on, and its dispatch. */
export interface TilePlan {
  /** The zero-padded source to make: [N, C, Hp, Wp] (Wp a multiple of 4). */
  Hp: number;
  Wp: number;
  /** The output as the kernel writes it, rounded up to whole tiles: [N, OC, OHp, OWp]. */
  OHp: number;
  OWp: number;
  spec(buffers: TileBuffers, label: string): DispatchSpec;
}

// Generated holes (tens of KB of unrolled code) per configuration (cachedParams).
const paramsCache = new Map<string, KernelParams>();

/** Plans conv2d_tile for `c` with at most `sizes.ct` channels per thread (the largest that divides a group's outputs). */
export function planTile(c: TileConv, sizes: TileSizes): TilePlan {
  const [N, OC, OH, OW] = c.out;
  const [KH, KW] = c.kernel;
  const [SY, SX] = c.stride;
  const [DY, DX] = c.dilation;
  const ocg = OC / c.groups;
  // A thread's channels lie in one group.
  const ct = [16, 8, 4, 2, 1].find((t) => t <= sizes.ct && ocg % t === 0)!;
  const { th, share } = sizes;
  const tilesY = Math.ceil(OH / th);
  const tilesX = Math.ceil(OW / 4);
  const ph = (th - 1) * SY + (KH - 1) * DY + 1; // patch rows
  const nv = Math.ceil((3 * SX + (KW - 1) * DX + 1) / 4); // patch vec4s per row
  const Hp = (tilesY - 1) * th * SY + ph;
  const Wp = (tilesX - 1) * 4 * SX + nv * 4;
  const OHp = tilesY * th;
  const OWp = tilesX * 4;
  const wdiv = ct % 4 === 0 ? 4 : 1;
  const tiles = N * tilesY * tilesX;
  const key = `${ct},${th},${c.kernel},${c.stride},${c.dilation},${c.flip},${c.relu},${ph},${nv},${share}`;
  const spec = (b: TileBuffers, label: string): DispatchSpec => {
    const uniforms: PackedUniforms = tileLayout.pack({
      tiles_x: tilesX,
      tiles_y: tilesY,
      tiles,
      RC: c.RC,
      OCG: ocg,
      has_bias: c.bias ? 1 : 0,
      b_off: c.bias?.offset ?? 0,
      b_s: c.bias?.stride ?? 0,
      s_n: (c.C * Hp * Wp) / 4,
      s_c: (Hp * Wp) / 4,
      s_h: Wp / 4,
      s_x: SX,
      s_y: th * SY,
      o_n: (OC * OHp * OWp) / 4,
      o_c: (OHp * OWp) / 4,
      o_h: OWp / 4,
      w_g: (c.RC * KH * KW * ocg) / wdiv,
      w_rc: (KH * KW * ocg) / wdiv,
      w_tap: ocg / wdiv,
    });
    return {
      kernel: 'conv2d_tile',
      params: cachedParams(paramsCache, key, () => tileHoles(ct, th, c, ph, nv, share)),
      buffers: [b.src, b.wt, b.bias ?? b.wt, b.out],
      access: 'rrrw',
      uniforms,
      workgroups: [...grid(Math.ceil(tiles / WG)), OC / ct],
      label,
    };
  };
  return { Hp, Wp, OHp, OWp, spec };
}

/** The unrolled pieces for ct channels × th rows, a ph-row patch of nv vec4s; `share`: loads shared per 8-lane subgroup. */
function tileHoles(ct: number, th: number, c: TileConv, ph: number, nv: number, share: boolean): TileHoles {
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
      wload.push(
        `let we${q} = min(sg8 + ${8 * q}u, ${nw - 1}u);`,
        `let wl${q} = wt[wb + i32(we${q} / ${perTap}u) * p.w_tap + i32(we${q} % ${perTap}u)];`,
      );
    }
  }
  const weight = (tap: number, j: number) => {
    const e = tap * perTap + j;
    return share ? `subgroupBroadcast(wl${e >> 3}, ${e & 7}u)` : `wt[wb + ${tap} * p.w_tap + ${j}]`;
  };
  const acc: string[] = [];
  const store: string[] = [];
  for (let q = 0; q < ct; q++)
    for (let a = 0; a < th; a++) {
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
  for (let ky = 0; ky < KH; ky++)
    for (let kx = 0; kx < KW; kx++) {
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
  for (let i = 0; i < ph; i++)
    for (let v = 0; v < nv; v++) {
      if (!used.has(`${i}_${v}`)) continue;
      const own = `src[sb + ${i} * p.s_h + ${v}]`;
      if (share && v >= SX && used.has(`${i}_${v - SX}`)) {
        load.push(`var r${i}_${v} = subgroupShuffleDown(r${i}_${v - SX}, 1u);`, `if (own) { r${i}_${v} = ${own}; }`);
      } else {
        load.push(`let r${i}_${v} = ${own};`);
      }
    }
  return {
    WG,
    ...subgroupHoles(share),
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
