// matmul_params.wgsl — included by every matmul kernel (`//! include matmul_params`): the uniform
// struct that src/ops/matmul-launch.ts packs (matmulLayout, checked against this struct when a
// kernel compiles) and the batch decode. A is [M, K], B [K, N] per batch entry, read through
// strides; C is written through strides too (the vec4 kernel computes Cᵀ = Bᵀ·Aᵀ that way).
// In matmul_vec4, A and B are arrays of vec4s: their offsets, batch strides and the stride of
// each operand's non-contiguous axis count vec4s (its contiguous axis is not read through p).

struct Params {
  bshape: vec4<u32>,     // batch shape (up to 4 dims after merging), row-major
  a_bstride: vec4<u32>,  // A's stride per batch dim (0 = broadcast)
  b_bstride: vec4<u32>,
  M: u32, N: u32, K: u32, brank: u32,
  a_offset: u32, b_offset: u32,
  sa_m: u32, sa_k: u32,
  sb_k: u32, sb_n: u32,
  sc_m: u32, sc_n: u32,  // C's strides in elements
  c_bstride: u32,        // elements between batch entries of C
}

@group(0) @binding(0) var<uniform> p: Params;

// Where batch entry `batch` (row-major over bshape) starts in A (x) and B (y).
fn batch_bases(batch: u32) -> vec2<u32> {
  var rem = batch;
  var base = vec2<u32>(p.a_offset, p.b_offset);
  for (var d = i32(p.brank) - 1; d >= 0; d--) {
    let n = p.bshape[d];
    let c = rem % n;
    rem = rem / n;
    base += c * vec2<u32>(p.a_bstride[d], p.b_bstride[d]);
  }
  return base;
}
