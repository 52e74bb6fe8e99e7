// sort_init.wgsl — the keys and indices a bitonic sort starts from (src/ops/sort.ts): row r of the
// contiguous input x [rows, n] copied into keys [rows, P] (P = n rounded up to a power of two)
// with idx[r, c] = c; the padding columns get idx = −1, which the sort always places last.

struct Params {
  rows: u32,
  n: u32,       // row length
  P: u32,       // padded row length (a power of two)
  offset: u32,  // element offset of x
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> keys: array<f32>;
@group(0) @binding(3) var<storage, read_write> idx: array<i32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 256u;
  if (t >= p.rows * p.P) { return; }
  let r = t / p.P;
  let c = t - r * p.P;
  if (c < p.n) {
    keys[t] = x[p.offset + r * p.n + c];
    idx[t] = i32(c);
  } else {
    keys[t] = 0.0;
    idx[t] = -1;
  }
}
