// conv2d_tile.wgsl — direct 2-D convolution as an implicit GEMM (no im2col buffer) with a
// register tile, for the forward pass and for the input gradient of stride-1 convolutions:
//
//   out[n, oc, oy, ox] = bias[oc] + Σ_{rc, ky, kx} src[n, g·RC + rc, oy·SY + ky·DY, ox·SX + kx·DX] · W[g, rc, ky', kx', oc − g·OCG]
//
// g = oc / OCG is the group. `src` is the input already zero-padded by the host (so there are no
// bounds tests: every read is in range) to [N, C, Hp, Wp] with Wp a multiple of 4; `wt` is the
// weight packed by the host as [G, RC, KH, KW, OCG] (output channels innermost, so CT of them are
// CT/4 vec4 loads); `out` is [N, OC, OHp, OWp], the output rounded up to whole tiles (the host
// returns the [.., OH, OW] view of it). ky' = ky, or KH − 1 − ky for the input gradient, which
// runs on the padded output gradient with the weight transposed (taps flipped).
//
// Tiling: a thread computes CT output channels × TH rows × 4 columns (vec4 accumulators). Per
// reduced channel it loads the PH × PW input patch its tile needs as vec4s (a 3×3 kernel with
// TH = 4: 6 rows × 2 vec4) and CT/4 vec4 weights per tap, then does CT·TH·KH·KW vec4 FMAs. On
// lavapipe each storage load whose address is not a compile-time uniform is a per-lane loop of
// branches (~20 cycles per scalar load, ~30 per vec4), so loads, not FMAs, set the speed: this
// tile does ~40 FMAs per load. The channel block is the workgroup's z index. No workgroup memory
// and no barriers (very expensive on lavapipe).
//
// The host generates the unrolled pieces (all indices constant, so the patch and accumulators
// live in registers — dynamic indexing of private arrays becomes if-ladders in lavapipe):
//   ACC    `var a<q>_<a> = vec4<f32>(0.0);` for each channel q < CT and tile row a < TH
//   LOAD   `let r<i>_<v> = src[sb + i·s_h + v];` the patch: row i, vec4 v
//   FMA    per tap: the CT weights w<q> and `a<q>_<a> += w<q> * vec4<f32>(r.., r.., r.., r..);`
//   STORE  `out[ob + (q·o_c + a·o_h)] = a<q>_<a> + bias;` (max(…, 0) with conv2d's `activation: 'relu'`)
// Template parameters: WG workgroup size, WT the weight element type (vec4<f32> when CT is a
// multiple of 4, else f32), CT (channels per thread).
//
// Shared weights (software adapters with subgroups; ENABLE, SG_ARG, SG_SETUP then non-empty):
// every lane of a workgroup needs the same weights, but llvmpipe loads them lane by lane, and
// those loads were half the kernel's time. Instead lane l of each 8-lane subgroup loads weight
// elements l, l + 8, … of the channel's KH·KW·CT (in LOAD, as `wl<q>`), and the FMA block takes
// element e from lane e % 8 with subgroupBroadcast (a register extract there). The input patch
// is shared too: the next lane's tile starts SX vec4s further along the same row, so vec4 v ≥ SX
// of a row of this lane's patch is the next lane's vec4 v − SX (subgroupShuffleDown); only lanes
// without such a neighbour (`own`: last lane of the subgroup, last tile of a row) load it. For a
// 3×3 stride-1 kernel that halves the input loads.
{{ENABLE}}

struct Params {
  tiles_x: i32, tiles_y: i32, tiles: i32, RC: i32, // tiles per row / per column of an image, N·tiles_y·tiles_x, reduced channels per group
  OCG: i32, has_bias: i32, b_off: i32, b_s: i32,   // output channels per group; bias view
  s_n: i32, s_c: i32, s_h: i32, s_x: i32,          // padded source strides in vec4s (s_x: vec4s per tile step along a row)
  s_y: i32, o_n: i32, o_c: i32, o_h: i32,          // s_y: source rows per tile step down; output strides in vec4s
  w_g: i32, w_rc: i32, w_tap: i32,                 // packed weight strides in WT elements: per group, channel, tap
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> wt: array<{{WT}}>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4<f32>>;

const CT = {{CT}};

@compute @workgroup_size({{WG}})
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>{{SG_ARG}}) {
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
