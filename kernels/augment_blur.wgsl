// augment_blur.wgsl — one pass of the separable Gaussian blur for a batch: out[b, c, y, x] =
// Σ_t w_b[t] · src[b, c, reflect(y or x + t − K/2)] along one axis (AXIS 0 = along a row, 1 =
// along a column), with torch's 'reflect' padding (the edge pixel is not repeated; needs K/2 < the
// axis length). The host runs the row pass, then the column pass. Images whose blur flag is 0 are
// copied unchanged. The weights are per image, computed on the host from the image's sigma
// (normalised Gaussian) and stored in its parameter row.
// If NORM is true (this is the last stage) the value becomes (v − mean[c]) / std[c].
//
// Layout: src and out are contiguous [B, C, H, W] (different buffers); prm is the per-image table
// [B, p.prow]: prm[b, 11] = blur on, prm[b, p.woff ..] = this axis's K weights.
// Work split: a thread writes PX neighbouring pixels of one row, all channels (dispatch x over
// groups of PX columns, y over rows, z over images: no integer division). It loads the weights
// once, and in the row pass each source pixel of its window once (K + PX − 1 loads for PX
// outputs instead of K·PX): every storage access is a gather on lavapipe. No barriers.
// Template parameters: C (channels, 1 or 3), K (taps, odd), AXIS (0/1), NORM (true/false),
// PX (pixels per thread). Constants, so all loops unroll.

struct Params {
  batch: u32, channels: u32, h: u32, w: u32,
  prow: u32, woff: u32, pad0: u32, pad1: u32,
  mean: vec4<f32>,
  stdev: vec4<f32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> prm: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const C: u32 = {{C}}u;
const K: u32 = {{K}}u;
const AXIS: u32 = {{AXIS}}u;
const NORM: bool = {{NORM}};
const PX: u32 = {{PX}}u;
const HALF: i32 = i32(K / 2u);

fn reflect(i: i32, n: i32) -> i32 {
  var j = i;
  if (j < 0) { j = -j; }
  if (j >= n) { j = 2 * (n - 1) - j; }
  return clamp(j, 0, n - 1);  // only positions no output uses can need this
}

fn finish(v: f32, c: u32) -> f32 {
  if (NORM) { return (v - p.mean[c]) / p.stdev[c]; }
  return v;
}

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let x0 = gid.x * PX;
  let y = gid.y;
  let b = gid.z;
  if (x0 >= p.w || y >= p.h || b >= p.batch) { return; }
  let r = b * p.prow;
  let plane = p.h * p.w;
  let row = b * C * plane + y * p.w;
  let n = min(PX, p.w - x0);  // pixels this thread writes
  if (prm[r + 11u] < 0.5) {
    for (var c = 0u; c < C; c++) {
      for (var k = 0u; k < PX; k++) {
        if (k < n) { out[row + c * plane + x0 + k] = finish(src[row + c * plane + x0 + k], c); }
      }
    }
    return;
  }
  var w: array<f32, K>;
  for (var t = 0u; t < K; t++) { w[t] = prm[r + p.woff + t]; }
  if (AXIS == 0u) {
    for (var c = 0u; c < C; c++) {
      let at = row + c * plane;
      // The window x0 − K/2 .. x0 + PX − 1 + K/2, reflected at the row's ends.
      var win: array<f32, K + PX - 1u>;
      for (var t = 0u; t < K + PX - 1u; t++) {
        win[t] = src[at + u32(reflect(i32(x0 + t) - HALF, i32(p.w)))];
      }
      for (var k = 0u; k < PX; k++) {
        var v = 0.0;
        for (var t = 0u; t < K; t++) { v += w[t] * win[k + t]; }
        if (k < n) { out[at + x0 + k] = finish(v, c); }
      }
    }
  } else {
    var rows: array<u32, K>;
    for (var t = 0u; t < K; t++) { rows[t] = u32(reflect(i32(y + t) - HALF, i32(p.h))) * p.w; }
    for (var c = 0u; c < C; c++) {
      let base = b * C * plane + c * plane + x0;
      for (var k = 0u; k < PX; k++) {
        var v = 0.0;
        for (var t = 0u; t < K; t++) { v += w[t] * src[base + rows[t] + min(k, n - 1u)]; }
        if (k < n) { out[row + c * plane + x0 + k] = finish(v, c); }
      }
    }
  }
}
