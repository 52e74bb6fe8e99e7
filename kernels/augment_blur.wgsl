// augment_blur.wgsl — one pass of the separable Gaussian blur for a batch, one thread per
// element: out[b, c, y, x] = Σ_t w_b[t] · src[b, c, reflect(y or x + t − k/2)] along one axis
// (p.axis 0 = along a row, 1 = along a column), with torch's 'reflect' padding (the edge pixel
// is not repeated; needs k/2 < the axis length). The host runs the row pass, then the column pass.
// Images whose blur flag is 0 are copied unchanged. The weights are per image, computed on the
// host from the image's sigma (normalised Gaussian) and stored in its parameter row.
// If p.normalize is 1 (this is the last stage) the value becomes (v − mean[c]) / std[c].
//
// Layout: src and out are contiguous [B, C, H, W] (different buffers); prm is the per-image table
// [B, p.prow]: prm[b, 11] = blur on, prm[b, p.woff .. p.woff + k) = this axis's weights.
// Dispatch: x over columns, y over rows, z over images (no integer division, which lavapipe
// scalarises). No barriers.

struct Params {
  batch: u32, channels: u32, h: u32, w: u32,
  prow: u32, axis: u32, k: u32, woff: u32,
  normalize: u32, pad0: u32, pad1: u32, pad2: u32,
  mean: vec4<f32>,
  stdev: vec4<f32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> prm: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn reflect(i: i32, n: i32) -> i32 {
  var j = i;
  if (j < 0) { j = -j; }
  if (j >= n) { j = 2 * (n - 1) - j; }
  return j;
}

@compute @workgroup_size(16, 4, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let x = gid.x;
  let y = gid.y;
  let b = gid.z;
  if (x >= p.w || y >= p.h || b >= p.batch) { return; }
  let r = b * p.prow;
  let plane = p.h * p.w;
  var at = b * p.channels * plane + y * p.w + x;
  if (prm[r + 11u] < 0.5) {
    for (var c = 0u; c < p.channels; c++) {
      var v = src[at];
      if (p.normalize == 1u) { v = (v - p.mean[c]) / p.stdev[c]; }
      out[at] = v;
      at += plane;
    }
    return;
  }
  // Offsets (relative to this pixel) and weights of the taps, shared by the channels.
  let half = i32(p.k / 2u);
  var coord = i32(x);
  var n = i32(p.w);
  var step = 1;
  if (p.axis == 1u) {
    coord = i32(y);
    n = i32(p.h);
    step = i32(p.w);
  }
  for (var c = 0u; c < p.channels; c++) {
    var v = 0.0;
    for (var k = 0u; k < p.k; k++) {
      let d = reflect(coord + i32(k) - half, n) - coord;
      v += prm[r + p.woff + k] * src[u32(i32(at) + d * step)];
    }
    if (p.normalize == 1u) { v = (v - p.mean[c]) / p.stdev[c]; }
    out[at] = v;
    at += plane;
  }
}
