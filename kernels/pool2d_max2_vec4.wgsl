// pool2d_max2_vec4.wgsl — pool2d.wgsl's max pooling for its most common case, 2×2 windows with
// stride 2 and no padding, reading x as aligned vec4s (x's row, plane and batch strides and its
// offset multiples of 4, columns contiguous; conv2d's and batchNorm's padded outputs are).
//
// Why: llvmpipe loads storage lane by lane, and the generic kernel loads 4 scalars per output
// after 3 integer divisions per output. Here one thread reads two vec4s (the same 4 columns of
// rows 2·oh and 2·oh + 1) and writes the 2 outputs they cover: 2 loads and 3 divisions per 2
// outputs. Same results as pool2d.wgsl: the first maximum in window order (0,0), (0,1), (1,0),
// (1,1) wins, its flat index ih·W + iw goes to idx; outputs past OW (the last vec4 of a row of
// odd width) are not written. With W odd the last column is never read, as in PyTorch (floor).
//
// Threads: N·C·OH·Q, Q = ceil(W / 4) vec4s per input row.

struct Params {
  xs: vec4<u32>,     // strides of x, in vec4s (w: unused, 1 element)
  C: u32, W: u32, OH: u32, OW: u32,
  Q: u32, x_offset: u32, total: u32,   // x_offset in vec4s; total = threads
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> idx: array<f32>;

// The first maximum of the window (a, b / c, d) in that order, and its flat offset from a in a
// row of width w: 0, 1, w, w + 1.
fn first_max(a: f32, b: f32, c: f32, d: f32, w: f32) -> vec2<f32> {
  var best = a;
  var at = 0.0;
  if (b > best) { best = b; at = 1.0; }
  if (c > best) { best = c; at = w; }
  if (d > best) { best = d; at = w + 1.0; }
  return vec2<f32>(best, at);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 64u;
  if (t >= p.total) { return; }
  let q = t % p.Q;
  let row = t / p.Q;          // (plane, oh)
  let oh = row % p.OH;
  let plane = row / p.OH;
  let n = plane / p.C;
  let base = p.x_offset + n * p.xs.x + (plane - n * p.C) * p.xs.y + 2u * oh * p.xs.z + q;
  let top = x[base];
  let bottom = x[base + p.xs.z];
  let ow0 = 2u * q;
  let o = (plane * p.OH + oh) * p.OW + ow0;
  let ih = f32(2u * oh * p.W);  // flat index of the window's top row start
  let w = f32(p.W);
  let l = first_max(top.x, top.y, bottom.x, bottom.y, w);
  out[o] = l.x;
  idx[o] = ih + f32(4u * q) + l.y;
  if (ow0 + 1u < p.OW) {
    let r = first_max(top.z, top.w, bottom.z, bottom.w, w);
    out[o + 1u] = r.x;
    idx[o + 1u] = ih + f32(4u * q + 2u) + r.y;
  }
}
