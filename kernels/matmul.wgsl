// matmul.wgsl — C[b, m, n] = Σ_k A[b, m, k] · B[b, k, n], batched with broadcasting.
//
// Both operands are read through strides (sa_m, sa_k, sb_k, sb_n) and per-batch offsets, so a
// transposed view is read in place. C is written through strides too (contiguous [batch, M, N]).
// Tiling: 8×8 threads per workgroup, each thread computes a 4×4 block of C in registers: a
// 32×32 tile per workgroup, no workgroup memory and no barriers (barriers are very expensive on
// software rasterisers such as lavapipe; on discrete GPUs the tiled kernels of later versions win).
// Rows/columns past the edge are clamped for reading and skipped for writing.

//! include matmul_params
//! include matmul_epilogue

@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let batch = gid.z;
  let bases = batch_bases(batch);
  let a_base = bases.x;
  let b_base = bases.y;
  let m0 = gid.y * 4u;
  let n0 = gid.x * 4u;
  if (m0 >= p.M || n0 >= p.N) { return; }
  var rows: array<u32, 4>;
  var cols: array<u32, 4>;
  for (var r = 0u; r < 4u; r++) {
    rows[r] = a_base + min(m0 + r, p.M - 1u) * p.sa_m;
    cols[r] = b_base + min(n0 + r, p.N - 1u) * p.sb_n;
  }
  var acc: array<vec4<f32>, 4>;
  for (var k = 0u; k < p.K; k++) {
    let ka = k * p.sa_k;
    let kb = k * p.sb_k;
    let bv = vec4<f32>(B[cols[0] + kb], B[cols[1] + kb], B[cols[2] + kb], B[cols[3] + kb]);
    acc[0] += A[rows[0] + ka] * bv;
    acc[1] += A[rows[1] + ka] * bv;
    acc[2] += A[rows[2] + ka] * bv;
    acc[3] += A[rows[3] + ka] * bv;
  }
  for (var r = 0u; r < 4u; r++) {
    let m = m0 + r;
    if (m >= p.M) { break; }
    for (var c = 0u; c < 4u; c++) {
      if (n0 + c < p.N) { store_c(batch, m, n0 + c, acc[r][c]); }
    }
  }
}
