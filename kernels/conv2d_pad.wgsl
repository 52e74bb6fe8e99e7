// conv2d_pad.wgsl — the zero-padded (and, for the input gradient of a strided convolution,
// spread-out) copy that the convolution kernels read without bounds tests:
//
//   out[n, c, i, j] = src[n, c, (i − top) / sy, (j − left) / sx]  where both divisions are exact
//                     and in range, else 0
//
// src is any strided view [N, C, H, W]; out is contiguous [N, C, Hp, Wp] with Wp a multiple of 4.
// One thread writes one output row as vec4s (one division per thread, not per element: integer
// division is scalarised on lavapipe). No barriers.
//
// Template parameters: WG workgroup size.

struct Params {
  C: i32, H: i32, W: i32, Hp: i32,
  Wp4: i32, top: i32, left: i32, sy: i32,
  sx: i32, s_off: i32, s_n: i32, s_c: i32,
  s_h: i32, s_w: i32, rows: i32,             // rows = N·C·Hp
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = i32(gid.x + gid.y * nwg.x * {{WG}}u);
  if (t >= p.rows) { return; }
  let plane = t / p.Hp;
  let i = t - plane * p.Hp;
  let qy = i - p.top;
  let y = qy / p.sy;
  let row_ok = qy >= 0 && y * p.sy == qy && y < p.H;
  let n = plane / p.C;
  let base = p.s_off + n * p.s_n + (plane - n * p.C) * p.s_c + y * p.s_h;
  for (var b = 0; b < p.Wp4; b++) {
    var v = vec4<f32>(0.0);
    if (row_ok) {
      for (var e = 0; e < 4; e++) {
        let qx = 4 * b + e - p.left;
        var x = qx;
        if (p.sx != 1) { x = qx / p.sx; }
        if (qx >= 0 && x * p.sx == qx && x < p.W) { v[e] = src[base + x * p.s_w]; }
      }
    }
    out[t * p.Wp4 + b] = v;
  }
}
