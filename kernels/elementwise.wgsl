// elementwise.wgsl — out[i] = EXPR(x0, x1, …) for every element of the output, with NumPy
// broadcasting and arbitrary strides on every input and on the output (a view can be written in
// place, e.g. a slice of a concat result or a parameter updated by an optimizer).
//
// Layout: every operand is a flat f32 buffer plus an element offset and per-dimension strides
// (stride 0 = broadcast). The host collapses dimensions that are contiguous in all operands, so a
// plain contiguous op runs the index loop once. One thread per output element, no barriers
// (workgroup barriers are expensive on software rasterisers such as lavapipe).
//
// Operands sit in SLOTS slots of strides and offsets, four per vec4 so that one vec4 multiply-add
// per dimension advances four operands: up to 3 inputs use slots 0–2 and the output slot 3
// (rank ≤ 8); more inputs (fuse()) use slots 0..n-1, the output slot n and rank ≤ 4, which keeps
// the struct inside the 256-byte uniform slot every dispatch gets.
//
// Template parameters (filled by src/ops/map.ts):
//   DIM_VECS  vec4s per shape / stride array (2: rank ≤ 8, 1: rank ≤ 4)
//   SLOTS     operand slots (a multiple of 4); OFFSET_VECS = SLOTS / 4
//   INPUTS    declarations of the read-only inputs in0..in{n-1} (@binding 1..n)
//   OUT       binding number of the output (n + 1)
//   INDEX_INIT  `var o0 = p.offsets[0];` … one vec4 of offsets per group of 4 slots
//   INDEX     decodes i into coordinates, innermost dimension first, and adds coordinate ×
//             strides to the offsets: unrolled for the (merged) rank at hand, with constant
//             indices into p.shape / p.strides. A loop over dimensions indexing the uniforms by
//             its counter ran 3–4× slower on lavapipe (the indexed uniform loads go lane by lane).
//             One integer division per dimension (the remainder follows by a multiply), none for
//             the outermost dimension (its coordinate is what is left, as i < numel) and none at
//             all for rank ≤ 1: lavapipe divides lane by lane too.
//   LOADS     `let x0 = in0[o0.x];` … one per input;  OUT_INDEX  the output's (`o0.w`)
//   EXPR      the expression of x0, x1, … and the scalars p.a, p.b, in SCALAR_T (f32 or i32: each
//             input is converted to it on load); the result is converted to OUT_T, the output's
//             element type (src/dtype.ts)
//   WG        workgroup size

struct Params {
  shape: array<vec4<u32>, {{DIM_VECS}}>,                    // output shape, row-major
  strides: array<array<vec4<u32>, {{DIM_VECS}}>, {{SLOTS}}>,  // per slot (elements)
  offsets: array<vec4<u32>, {{OFFSET_VECS}}>,               // element offset of slot k at [k / 4][k % 4]
  numel: u32,
  a: {{SCALAR_T}},                       // scalar operands (addScalar's value, pow's exponent, ...)
  b: {{SCALAR_T}},
}

@group(0) @binding(0) var<uniform> p: Params;
{{INPUTS}}
@group(0) @binding({{OUT}}) var<storage, read_write> out: array<{{OUT_T}}>;

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * {{WG}}u;
  if (i >= p.numel) { return; }
  // Offsets of element i in each operand.
  {{INDEX_INIT}}
  {{INDEX}}
  {{LOADS}}
  out[{{OUT_INDEX}}] = {{OUT_T}}({{EXPR}});
}
