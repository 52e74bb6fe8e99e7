// pool2d.wgsl — max or average pooling over kh×kw windows of an NCHW tensor (forward).
// One thread per output element; the window is read directly (no barriers). Max pooling also
// writes the flat index (ih·W + iw) of the first maximum of each window, which the backward
// kernel uses to route the gradient; padding never wins (it counts as -infinity). Average
// pooling divides by kh·kw (count_include_pad) or by the number of in-bounds elements.
// x is [N, C, H, W] with any strides (e.g. the padded views conv2d and batchNorm return; the
// saved index is ih·W + iw whatever the strides); out and idx are contiguous.
// Template parameter MAX: true for max pooling, false for average pooling.

struct Params {
  xs: vec4<u32>,     // strides of x
  N: u32, C: u32, H: u32, W: u32,
  OH: u32, OW: u32, kh: u32, kw: u32,
  sh: u32, sw: u32, ph: u32, pw: u32,
  x_offset: u32, total: u32, include_pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> idx: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 64u;
  if (t >= p.total) { return; }
  let ow = t % p.OW;
  let oh = (t / p.OW) % p.OH;
  let plane = t / (p.OW * p.OH);
  let n = plane / p.C;
  let base = p.x_offset + n * p.xs.x + (plane - n * p.C) * p.xs.y;
  let h0 = i32(oh * p.sh) - i32(p.ph);
  let w0 = i32(ow * p.sw) - i32(p.pw);
  var best = 0.0;
  var best_at = -1;
  var acc = 0.0;
  var count = 0u;
  for (var i = 0u; i < p.kh; i++) {
    let ih = h0 + i32(i);
    if (ih < 0 || ih >= i32(p.H)) { continue; }
    for (var j = 0u; j < p.kw; j++) {
      let iw = w0 + i32(j);
      if (iw < 0 || iw >= i32(p.W)) { continue; }
      let at = ih * i32(p.W) + iw;
      let v = x[base + u32(ih) * p.xs.z + u32(iw) * p.xs.w];
      if ({{MAX}}) {
        if (best_at < 0 || v > best) { best = v; best_at = at; }
      } else {
        acc += v;
        count += 1u;
      }
    }
  }
  if ({{MAX}}) {
    out[t] = best;
    idx[t] = f32(best_at);
  } else {
    let divisor = select(f32(count), f32(p.kh * p.kw), p.include_pad == 1u);
    out[t] = acc / divisor;
  }
}
