// pool2d_backward.wgsl — gradient of max/avg pooling with respect to the input.
// One thread per INPUT element: it visits every output window that covers it (at most
// ceil(kh/sh)·ceil(kw/sw) of them) and adds that window's gradient — for max pooling only where
// the window's saved argmax is this element, for average pooling g / divisor. No atomics needed,
// and the result is deterministic. g is contiguous [N, C, OH, OW]; the output gx is [N, C, H, W].
// Template parameter MAX as in pool2d.wgsl.

struct Params {
  N: u32, C: u32, H: u32, W: u32,
  OH: u32, OW: u32, kh: u32, kw: u32,
  sh: u32, sw: u32, ph: u32, pw: u32,
  g_offset: u32, total: u32, include_pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<f32>;
@group(0) @binding(3) var<storage, read_write> gx: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 64u;
  if (t >= p.total) { return; }
  let iw = i32(t % p.W);
  let ih = i32((t / p.W) % p.H);
  let plane = t / (p.W * p.H);
  let gbase = p.g_offset + plane * p.OH * p.OW;
  let me = f32(ih * i32(p.W) + iw);
  // Windows with oh·sh − ph ≤ ih < oh·sh − ph + kh.
  let hp = ih + i32(p.ph);
  let wp = iw + i32(p.pw);
  let oh_lo = max(0, (hp - i32(p.kh) + i32(p.sh)) / i32(p.sh));
  let oh_hi = min(i32(p.OH) - 1, hp / i32(p.sh));
  let ow_lo = max(0, (wp - i32(p.kw) + i32(p.sw)) / i32(p.sw));
  let ow_hi = min(i32(p.OW) - 1, wp / i32(p.sw));
  var acc = 0.0;
  for (var oh = oh_lo; oh <= oh_hi; oh++) {
    for (var ow = ow_lo; ow <= ow_hi; ow++) {
      let o = gbase + u32(oh) * p.OW + u32(ow);
      if ({{MAX}}) {
        if (idx[o - p.g_offset] == me) { acc += g[o]; }
      } else {
        var divisor = f32(p.kh * p.kw);
        if (p.include_pad == 0u) {
          let h0 = oh * i32(p.sh) - i32(p.ph);
          let w0 = ow * i32(p.sw) - i32(p.pw);
          let hn = min(h0 + i32(p.kh), i32(p.H)) - max(h0, 0);
          let wn = min(w0 + i32(p.kw), i32(p.W)) - max(w0, 0);
          divisor = f32(hn * wn);
        }
        acc += g[o] / divisor;
      }
    }
  }
  gx[t] = acc;
}
