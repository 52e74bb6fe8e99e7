// rowwise.wgsl — ops that normalise along one dimension ("rows": the lines of elements that share
// every index except the one along dim): softmax, logSoftmax, L2 normalize, and their backward
// formulas. One thread per row: a first pass over the row accumulates its statistics (running
// max and sum of exponentials, a dot product, a sum of squares), a second pass writes every
// element of the row from them.
//
// Layout: inputs a and b (b is optional: the backward passes read a = saved output or input, b =
// incoming gradient) and the output are strided views; the host gives the strides of the other
// ("kept") dims and the stride along dim for each. Barrier-free, so it suits software adapters
// (lavapipe) as well as GPUs; rows of any length; one pipeline per op (shapes are uniforms).
//
// Template parameters (filled by src/ops/softmax.ts and src/ops/norm.ts):
//   LOAD_B  a statement that defines `b` (the element of input b), or empty
//   INIT    declares and initialises the row statistics (may read the first element, first_a)
//   STEP    updates them with the element `a` (and `b`)
//   WRITE   the f32 value written for element `a` (and `b`), from the statistics and p.eps

struct Params {
  kshape: array<vec4<u32>, 2>,  // shape of the kept dims (the rows), row-major
  ka: array<vec4<u32>, 2>,      // strides of a over the kept dims
  kb: array<vec4<u32>, 2>,      // strides of b
  ko: array<vec4<u32>, 2>,      // strides of the output
  offsets: vec4<u32>,           // element offsets of a, b, out
  dstrides: vec4<u32>,          // strides along dim of a, b, out
  len: u32,                     // row length (size of dim)
  rows: u32,
  krank: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.x + gid.y * nwg.x * 64u;
  if (row >= p.rows) { return; }
  var rem = row;
  var base = p.offsets.xyz;
  for (var d = i32(p.krank) - 1; d >= 0; d--) {
    let q = u32(d) >> 2u;
    let r = u32(d) & 3u;
    let n = p.kshape[q][r];
    let c = rem % n;
    rem = rem / n;
    base += c * vec3<u32>(p.ka[q][r], p.kb[q][r], p.ko[q][r]);
  }
  let first_a = A[base.x];
  {{INIT}}
  for (var j = 0u; j < p.len; j++) {
    let a = A[base.x + j * p.dstrides.x];
    {{LOAD_B}}
    {{STEP}}
  }
  for (var j = 0u; j < p.len; j++) {
    let a = A[base.x + j * p.dstrides.x];
    {{LOAD_B}}
    out[base.z + j * p.dstrides.z] = {{WRITE}};
  }
}
