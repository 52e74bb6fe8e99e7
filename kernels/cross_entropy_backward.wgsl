// cross_entropy_backward.wgsl — gradient of the classifier losses of kernels/cross_entropy.wgsl,
// one thread per element of the contiguous output gx [N, C]:
//   gx[i, c] = gs_i·(soft·exp(x[i, c] − lse_i) − pick·[c = t_i] − uni)
// with gs_i = scale·g[i·g_stride] (the upstream gradient: one value for the mean, g_stride = 0,
// or one per row) and lse_i = m_i + log s_i saved by the forward pass in stats[N + i], stats[2N + i].

struct Params {
  N: u32,
  C: u32,
  x_offset: u32,
  x_row: u32,
  x_col: u32,
  t_offset: u32,
  t_stride: u32,
  g_offset: u32,
  g_stride: u32,
  scale: f32,
  soft: f32,
  pick: f32,
  uni: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read> g: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = gid.x + gid.y * nwg.x * 256u;
  if (k >= p.N * p.C) { return; }
  let i = k / p.C;
  let c = k % p.C;
  let gs = p.scale * g[p.g_offset + i * p.g_stride];
  var soft = 0.0;
  if (p.soft != 0.0) { soft = p.soft * exp((x[p.x_offset + i * p.x_row + c * p.x_col] - stats[p.N + i]) - stats[2u * p.N + i]); }
  let hit = select(0.0, p.pick, labels[p.t_offset + i * p.t_stride] == i32(c));
  out[k] = gs * (soft - hit - p.uni);
}
