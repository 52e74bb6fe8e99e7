// memory_bank_update.wgsl — the memory bank's momentum update (Wu et al. 2018, as in MoCo §4.1):
//   bank[idx[b]] ← normalize(m · bank[idx[b]] + (1 − m) · q[b])   for every batch row b,
// in place on the [N, dim] bank. One thread per batch row. When an index occurs several times in
// the batch, only the thread of its last occurrence writes, and it applies every occurrence in
// batch order, so the result equals sequential updates (deterministic, no write races). Each
// occurrence is two passes over the row: the squared norm of the mix, then the normalised write.
// Barrier-free (suits lavapipe). q is contiguous [n, dim] at q_offset; idx holds integer-valued
// f32 (checked in range on the host).

struct Params {
  n: u32, dim: u32, q_offset: u32, idx_offset: u32,
  m: f32, one_minus_m: f32, eps: f32, _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<f32>;
@group(0) @binding(3) var<storage, read_write> bank: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let b = gid.x + gid.y * nwg.x * 64u;
  if (b >= p.n) { return; }
  let r = u32(round(idx[p.idx_offset + b]));
  for (var j = b + 1u; j < p.n; j++) {
    if (u32(round(idx[p.idx_offset + j])) == r) { return; } // a later occurrence writes
  }
  let base = r * p.dim;
  for (var j = 0u; j <= b; j++) {
    if (u32(round(idx[p.idx_offset + j])) != r) { continue; }
    let qb = p.q_offset + j * p.dim;
    var ss = 0.0;
    for (var d = 0u; d < p.dim; d++) {
      let v = p.m * bank[base + d] + p.one_minus_m * q[qb + d];
      ss += v * v;
    }
    // A NaN norm stays NaN (WGSL's max may drop it), as PyTorch's normalize.
    let inv = select(1.0 / max(sqrt(ss), p.eps), ss, (bitcast<u32>(ss) & 0x7fffffffu) > 0x7f800000u);
    for (var d = 0u; d < p.dim; d++) {
      bank[base + d] = (p.m * bank[base + d] + p.one_minus_m * q[qb + d]) * inv;
    }
  }
}
