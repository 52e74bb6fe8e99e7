// scatter_add.wgsl — backward of gather/indexSelect: gx[o, k, i] = Σ_j [index(o, j, i) == k] g[o, j, i].
// WGSL has no float atomics, so each output element loops over the m index positions that could
// point at it: deterministic, and cheap for the index sizes gather is used with.
// g is contiguous [outer, m, inner]; the index is read as in gather.wgsl.

struct Params {
  outer: u32, n: u32, inner: u32, m: u32,
  so: u32, sj: u32, si: u32,
  g_offset: u32, idx_offset: u32, total: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * {{WG}}u;
  if (t >= p.total) { return; }
  let i = t % p.inner;
  let k = (t / p.inner) % p.n;
  let o = t / (p.inner * p.n);
  var acc = 0.0;
  for (var j = 0u; j < p.m; j++) {
    if (idx[p.idx_offset + o * p.so + j * p.sj + i * p.si] == i32(k)) {
      acc += g[p.g_offset + (o * p.m + j) * p.inner + i];
    }
  }
  out[t] = acc;
}
