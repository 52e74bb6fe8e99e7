// conv2d_pad4.wgsl — conv2d_pad.wgsl's zero-padded copy for its common case (no spreading,
// sx = sy = 1, and source rows contiguous: s_w = 1), reading the source as aligned vec4s:
//
//   out[n, c, i, j] = src[n, c, i − top, j − left]  when in range, else 0
//
// Why: llvmpipe loads storage one lane at a time, so conv2d_pad.wgsl's one scalar load per
// element was most of its time. Here one thread still writes one output row as vec4s, but each
// output vec4 needs one new aligned source vec4: output columns 4b .. 4b + 3 are source elements
// first + 4b .. first + 4b + 3 (first = the row's element offset − left), i.e. components sh ..
// sh + 3 of the aligned pair (A, B) = (src4[q + b], src4[q + b + 1]) with q = first >> 2 and
// sh = first & 3, the same shift for the whole row; B is carried over as the next block's A.
// Columns outside the source row, and rows outside it, are zero. Indices are clamped into the
// buffer (the values read there are masked out). The host uses this kernel only when the source
// buffer's size is a multiple of 16 bytes, so every element lies in some vec4.
//
// Template parameters: WG workgroup size.

struct Params {
  C: i32, H: i32, W: i32, Hp: i32,
  Wp4: i32, top: i32, left: i32, sy: i32,    // sy, sx, s_w: 1 here (kept: same layout as conv2d_pad)
  sx: i32, s_off: i32, s_n: i32, s_c: i32,
  s_h: i32, s_w: i32, rows: i32,             // rows = N·C·Hp
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;

fn at(i: i32) -> vec4<f32> {
  return src[clamp(i, 0, i32(arrayLength(&src)) - 1)];
}

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = i32(gid.x + gid.y * nwg.x * {{WG}}u);
  if (t >= p.rows) { return; }
  let plane = t / p.Hp;
  let y = t - plane * p.Hp - p.top;
  let o = t * p.Wp4;
  if (y < 0 || y >= p.H) {
    for (var b = 0; b < p.Wp4; b++) { out[o + b] = vec4<f32>(0.0); }
    return;
  }
  let n = plane / p.C;
  let first = p.s_off + n * p.s_n + (plane - n * p.C) * p.s_c + y * p.s_h - p.left;
  let q = first >> 2u;
  let sh = first & 3;
  var a = at(q);
  for (var b = 0; b < p.Wp4; b++) {
    let bb = at(q + b + 1);
    let v1 = vec4<f32>(a.yzw, bb.x);
    let v2 = vec4<f32>(a.zw, bb.xy);
    let v3 = vec4<f32>(a.w, bb.xyz);
    let v = select(select(select(v3, v2, sh == 2), v1, sh == 1), a, sh == 0);
    let x = vec4<i32>(4 * b - p.left) + vec4<i32>(0, 1, 2, 3);
    out[o + b] = select(vec4<f32>(0.0), v, (x >= vec4<i32>(0)) & (x < vec4<i32>(p.W)));
    a = bb;
  }
}
