// batchnorm_apply_vec4.wgsl — the fast path of kernels/batchnorm_apply.wgsl (same formulas,
// same RELU fusion): x (and g) contiguous [N, C, H, W] with H·W % 4 = 0 and offsets divisible
// by 4. Each thread handles VECS consecutive vec4s of one (n, c) plane (H·W/4 % VECS = 0): the
// plane, and so the coefficients, are found once per thread (3 integer divisions for 4·VECS
// elements instead of 4 per element), and contiguous vec4 loads and stores let lavapipe use
// vector loads instead of gathers.
//   forward  (BACKWARD false):  y  = x·coef[pair].0 + coef[pair].1    (RELU: max(y, 0))
//   backward (BACKWARD true):   gx = g'·coef[pair].0 + x·coef[pair].1 + coef[pair].2
//                               g' = g, or (RELU) g where x·saved[pair].0 + saved[pair].1 > 0
// pair = (n % groups)·C + c. Template parameters: BACKWARD, RELU (true / false), VECS (1, 2, 4).

struct Params {
  hw4: u32,        // H·W / 4: vec4s per plane
  C: u32,
  groups: u32,
  threads: u32,    // N·C·H·W / (4·VECS)
  x_offset: u32,   // in vec4s
  g_offset: u32,   // in vec4s
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> g: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> coef: array<f32>;
@group(0) @binding(4) var<storage, read> saved: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<vec4<f32>>;

const BACKWARD = {{BACKWARD}};
const RELU = {{RELU}};
const VECS = {{VECS}}u;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 64u;
  if (t >= p.threads) { return; }
  let i0 = t * VECS;
  let plane = i0 / p.hw4;
  let n = plane / p.C;
  let c = plane - n * p.C;
  let k = 4u * ((n % p.groups) * p.C + c);
  let a = coef[k];
  let b = coef[k + 1u];
  if (BACKWARD) {
    let d = coef[k + 2u];
    let sa = saved[k];
    let sb = saved[k + 1u];
    for (var j = 0u; j < VECS; j++) {
      let xv = x[p.x_offset + i0 + j];
      var gv = g[p.g_offset + i0 + j];
      if (RELU) { gv = select(vec4<f32>(0.0), gv, xv * sa + sb > vec4<f32>(0.0)); }
      out[i0 + j] = gv * a + xv * b + d;
    }
  } else {
    for (var j = 0u; j < VECS; j++) {
      let y = x[p.x_offset + i0 + j] * a + b;
      if (RELU) { out[i0 + j] = max(y, vec4<f32>(0.0)); } else { out[i0 + j] = y; }
    }
  }
}
