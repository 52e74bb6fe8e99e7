// gather.wgsl — out[o, j, i] = x[o, index(o, j, i), i] for indexSelect and gather.
// x is contiguous and seen as [outer, n, inner] around the gathered dim; the index buffer holds
// int32 and is read at offset + o*so + j*sj + i*si (indexSelect: so = si = 0).
// An out-of-range index (not checked on the host for index tensors: that needs a readback)
// produces NaN rather than reading another row, so that anomaly detection names the op. One
// thread per output element.

struct Params {
  outer: u32, n: u32, inner: u32, m: u32,
  so: u32, sj: u32, si: u32,
  x_offset: u32, idx_offset: u32, total: u32,
  nan: f32,  // NaN from the host (WGSL has no NaN constant)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<{{T}}>;  // T: f32 or i32 (x's dtype)
@group(0) @binding(2) var<storage, read> idx: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<{{T}}>;

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * {{WG}}u;
  if (t >= p.total) { return; }
  let i = t % p.inner;
  let j = (t / p.inner) % p.m;
  let o = t / (p.inner * p.m);
  let k = idx[p.idx_offset + o * p.so + j * p.sj + i * p.si];
  if (k < 0 || u32(k) >= p.n) { out[t] = {{OUT_OF_RANGE}}; return; }  // NaN (f32), 0 (i32)
  out[t] = x[p.x_offset + (o * p.n + u32(k)) * p.inner + i];
}
