// conv2d_wgrad.wgsl — weight gradient of conv2d as an implicit GEMM reducing over pixels:
//
//   part[s, oc, (rc·KH + ky)·KW + kx] = Σ_{(n, oy, ox) in chunk s} gy[n, oc, oy, ox] · x[n, g·RC + rc, oy·SY + ky·DY, ox·SX + kx·DX]
//
// g = oc / OCG is the group. The reduction over N·OH·OW is long, so the host splits it into
// chunks of whole 4-pixel row segments and sums the partials [S, OC, RC·KH·KW] afterwards with
// the `sum` op. `x` is the input zero-padded by the host ([N, C, Hp, Wp], Wp a multiple of 4:
// no bounds tests), `gy` the output gradient padded to a multiple of 4 columns (zeros there add
// nothing); both are read as vec4s.
//
// Tiling: a thread owns CT output channels × CI input channels × all KH·KW taps (scalar
// accumulators) and walks the 4-pixel segments of its chunk; per segment it loads CT vec4s of gy
// and, per input channel and kernel row, the PW-wide input row as vec4s, then does
// CT·CI·KH·KW dot products of 4. Threads are flattened over (chunk, group, channel blocks), so
// small layers still fill the machine. No workgroup memory, no barriers (very expensive on
// lavapipe), and loads — not FMAs — set the speed there (see conv2d_tile.wgsl).
//
// The host generates the unrolled pieces (constant indices keep everything in registers):
//   ACC    `var a<q>_<c>_<tap> = 0.0;`
//   LOAD   `let g<q> = gy[gb + q·g_c];` and `let r<c>_<ky>_<v> = x[xb + c·x_c + ky·DY·x_h + v];`
//   FMA    `a<q>_<c>_<tap> += dot(g<q>, vec4<f32>(r.., r.., r.., r..));`
//   STORE  `part[pb + q·cols + c·KH·KW + tap] = a<q>_<c>_<tap>;`
// Template parameters: WG workgroup size.
//
// Shared gy (software adapters with subgroups, when the input-channel blocks are a multiple of 8;
// ENABLE, SG_ARG, SG_SETUP then non-empty): threads run input-channel blocks fastest, so the 8
// lanes of a subgroup walk the same segments for the same output channels and need the same CT
// vec4s of gy. Lane q loads the q-th and the others take it by subgroupBroadcast, instead of
// every lane loading all CT (llvmpipe loads lane by lane; see conv2d_tile.wgsl). WGSL does not
// promise which invocations form a subgroup, so `same` checks that all lanes have the same chunk
// and output channels (id / nci); where they do not, every lane loads its own.
{{ENABLE}}

struct Params {
  tiles_x: i32, OH: i32, tiles: i32, chunk: i32,  // 4-pixel segments per output row, output rows, N·OH·tiles_x, segments per chunk
  OC: i32, OCG: i32, RC: i32, cols: i32,          // output channels (all, per group), input channels per group, RC·KH·KW
  nct: i32, nci: i32, G: i32, threads: i32,       // channel blocks per group (outputs / CT, inputs / CI), groups, all threads
  g_n: i32, g_c: i32, g_h: i32, x_n: i32,         // padded gy strides (vec4s); padded x strides (vec4s)
  x_c: i32, x_h: i32, x_sx: i32, x_sy: i32,       // x_sx: vec4s per segment step (= SX), x_sy: rows per output row (= SY)
  CT: i32, CI: i32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gy: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>{{SG_ARG}}) {
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
