// pool2d_backward_window.wgsl — the fast path of kernels/pool2d_backward.wgsl for
// non-overlapping windows without padding (kernel = stride, padding 0: the usual 2×2 max-pool).
// Each input element then lies in at most one window, so one thread per OUTPUT element (window)
// writes all kh·kw inputs of its window: max pooling g to the saved argmax and 0 elsewhere,
// average pooling g / (kh·kw) everywhere (no padding, so the divisor is always the full window).
// Inputs that no window covers (the last H mod kh rows, W mod kw columns in floor mode) get 0
// from the window of the last row / column. No atomics, no scatter, deterministic, and only 3
// integer divisions per window instead of 7 per input element (lavapipe scalarises them).
// g is [N, C, OH, OW] with any strides (e.g. the padded view conv2d's input gradient is: no
// contiguous copy needed); idx (max pooling) is contiguous like the forward output and holds
// indices h·W + w within a plane; gx is [N, C, H, W] in planes of gx_plane elements and rows of
// gx_row (contiguous, or the padded layout of the pooled input, whose padding is left
// unwritten); total = N·C·OH·OW. Template parameter MAX as in pool2d.wgsl.

struct Params {
  gs: vec4<u32>,     // strides of g
  C: u32, H: u32, W: u32, OH: u32,
  OW: u32, kh: u32, kw: u32, g_offset: u32,
  total: u32, gx_plane: u32, gx_row: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<f32>;
@group(0) @binding(3) var<storage, read_write> gx: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 64u;
  if (t >= p.total) { return; }
  let r = t / p.OW;
  let ow = t - r * p.OW;
  let plane = r / p.OH;
  let oh = r - plane * p.OH;
  let n = plane / p.C;
  let c = plane - n * p.C;
  let gv = g[p.g_offset + n * p.gs.x + c * p.gs.y + oh * p.gs.z + ow * p.gs.w];
  var at = -1.0;
  if ({{MAX}}) { at = idx[t]; }
  let h0 = oh * p.kh;
  let w0 = ow * p.kw;
  let rows = select(p.kh, p.H - h0, oh + 1u == p.OH);
  let cols = select(p.kw, p.W - w0, ow + 1u == p.OW);
  let base = plane * p.gx_plane;
  let avg = gv / f32(p.kh * p.kw);
  for (var i = 0u; i < rows; i++) {
    let row = (h0 + i) * p.W;
    let out_row = base + (h0 + i) * p.gx_row + w0;
    for (var j = 0u; j < cols; j++) {
      var v = 0.0;
      if (i < p.kh && j < p.kw) {
        if ({{MAX}}) { v = select(0.0, gv, f32(row + w0 + j) == at); } else { v = avg; }
      }
      gx[out_row + j] = v;
    }
  }
}
