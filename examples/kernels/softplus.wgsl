// softplus.wgsl — softplus(x) = log(1 + exp(beta·x)) / beta and its gradient, elementwise over a
// contiguous f32 array (examples/custom_op.ts). One thread per element, 64 threads per workgroup,
// workgroups spread over x and y (the host's grid()) so any length fits; no barriers, so it suits
// software adapters (lavapipe) and GPUs alike.
//
// Numerically stable form: log(1 + exp(z)) = max(z, 0) + log(1 + exp(-|z|)), which neither
// overflows for large z nor loses everything to rounding for very negative z.
// Gradient: d/dx softplus(x) = sigmoid(beta·x), so backward writes g · sigmoid(beta·x).
//
// Template parameter BACKWARD: false for the forward pass (reads x, writes y), true for the
// backward pass (reads x and the incoming gradient g, writes dx). The two settings compile to
// two pipelines; every shape shares them, because n and the offsets are uniforms.

struct Params {
  n: u32,         // number of elements
  x_offset: u32,  // element offset of x in its buffer (a contiguous view may start anywhere)
  g_offset: u32,  // element offset of g (backward only)
  beta: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.n) { return; }
  let z = p.beta * x[p.x_offset + i];
  if ({{BACKWARD}}) {
    out[i] = g[p.g_offset + i] / (1.0 + exp(-z));
  } else {
    out[i] = (max(z, 0.0) + log(1.0 + exp(-abs(z)))) / p.beta;
  }
}
