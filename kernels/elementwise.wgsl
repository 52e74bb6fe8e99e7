// elementwise.wgsl — out[i] = EXPR(x0, x1, x2) for every element of the output, with NumPy
// broadcasting and arbitrary strides on every input and on the output (a view can be written in
// place, e.g. a slice of a concat result or a parameter updated by an optimizer).
//
// Layout: every operand is a flat f32 buffer plus an element offset and per-dimension strides
// (stride 0 = broadcast). The host collapses dimensions that are contiguous in all operands, so a
// plain contiguous op runs the index loop once. One thread per output element, no barriers
// (workgroup barriers are expensive on software rasterisers such as lavapipe).
//
// Template parameters (filled by src/ops/elementwise.ts):
//   INPUTS  declarations of the read-only inputs in0..in{n-1} (@binding 1..n)
//   OUT     binding number of the output (n + 1)
//   LOADS   `let x0 = in0[o.x];` ... one per input
//   EXPR    the f32 expression of x0, x1, x2 and the scalars p.a, p.b
//   WG      workgroup size

struct Params {
  shape: array<vec4<u32>, 2>,   // output shape, up to 8 dims, row-major
  s0: array<vec4<u32>, 2>,      // strides of input 0 (elements)
  s1: array<vec4<u32>, 2>,
  s2: array<vec4<u32>, 2>,
  so: array<vec4<u32>, 2>,      // strides of the output
  offsets: vec4<u32>,           // element offsets of in0, in1, in2, out
  numel: u32,
  rank: u32,
  a: f32,                       // scalar operands (addScalar's value, pow's exponent, ...)
  b: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
{{INPUTS}}
@group(0) @binding({{OUT}}) var<storage, read_write> out: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * {{WG}}u;
  if (i >= p.numel) { return; }
  // Offsets of element i in each operand: decode i into coordinates, innermost dimension first.
  var o = p.offsets;
  if (p.rank <= 1u) {
    // One (merged) dimension: no integer division, which CPU SIMD (lavapipe) cannot vectorise.
    o += i * vec4<u32>(p.s0[0][0], p.s1[0][0], p.s2[0][0], p.so[0][0]);
    {{LOADS}}
    out[o.w] = {{EXPR}};
    return;
  }
  var rem = i;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let q = u32(d) >> 2u;
    let r = u32(d) & 3u;
    let n = p.shape[q][r];
    let c = rem % n;
    rem = rem / n;
    o += c * vec4<u32>(p.s0[q][r], p.s1[q][r], p.s2[q][r], p.so[q][r]);
  }
  {{LOADS}}
  out[o.w] = {{EXPR}};
}
