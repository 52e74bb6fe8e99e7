// matmul_vec4.wgsl — C[b] = X[b] · Y[b] for software adapters (Mesa lavapipe / llvmpipe).
//
// Why this shape: llvmpipe runs the 8 invocations of a subgroup as the 8 lanes of one AVX2
// vector, and it loads from a storage buffer one lane at a time (≈ 2.5 cycles per element per
// lane), while arithmetic is 8 lanes per instruction. So the kernel minimises loaded elements per
// multiply-add: every element is loaded by exactly one lane and shared with subgroupBroadcast,
// which costs a register extract. One workgroup = one subgroup of 8 lanes computes a tile of
// ROWS rows × 32 columns: lane l owns columns n0 + 4l .. n0 + 4l + 3 (one vec4 accumulator per
// row). Per step of 4 k values each lane loads 4 vec4s of Y (its 4 columns × 4 k) and ROWS/8
// vec4s of X, then each row's 4 X values are broadcast from the lane that loaded them:
// ROWS × 4 vec4 multiply-adds per lane per step. No workgroup memory and no barriers (a barrier
// switches coroutines in llvmpipe). Loops over rows are unrolled by matmul.ts because
// subgroupBroadcast needs a constant lane, and because llvmpipe spills indexed arrays to memory.
// Workgroup x walks the rows, so consecutive workgroups reuse the same 32 columns of Y from cache.
//
// Layouts (matmul.ts generates the pieces for the one at hand): X is [M, K] with k contiguous,
// or with m contiguous (X_T, a transposed view: lane l loads rows m0 + 4l .. 4l + 3 for each of
// the 4 k, and row r comes from lane r / 4, component r % 4); Y is [K, N] with n contiguous, or
// with k contiguous (Y_T, e.g. Wᵀ in x·Wᵀ: lane l loads its 4 columns as vec4s along k).
// All strides and offsets of X and Y are multiples of 4 and K is a multiple of 4 (matmul.ts checks
// and otherwise uses matmul.wgsl). Rows and columns past the edge are clamped for loading and
// skipped for writing. C is written through strides (sc_m, sc_n), so matmul.ts can compute
// Cᵀ = Yᵀ·Xᵀ when N is small and M large.
// Generated pieces: SETUP (per-lane row/column indices), ACC (ROWS vec4 accumulators), LOAD (this
// lane's share of X and Y for 4 k values), FMA (broadcast + multiply-add per row), STORE.

enable subgroups;

struct Params {
  bshape: vec4<u32>,     // batch shape (up to 4 dims after merging), row-major
  x_bstride: vec4<u32>,  // per batch dim, in vec4 units (0 = broadcast)
  y_bstride: vec4<u32>,
  M: u32, N: u32, K: u32, brank: u32,
  x_offset: u32, y_offset: u32,  // vec4 units
  ldx: u32,  // vec4 units: stride of X's m (or, with X_T, of its k)
  ldy: u32,  // vec4 units: stride of Y's k (or, with Y_T, of its n)
  sc_m: u32, sc_n: u32,  // C strides in elements
  c_bstride: u32,        // elements between batch entries of C
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> Y: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
{{EPILOGUE_DECL}}
// The value stored for output (m, n): v, or v + bias and/or an activation that matmul.ts fuses
// in (linear's x·Wᵀ + b → ReLU); m, n are this kernel's output coordinates.
fn epilogue(v: f32, m: u32, n: u32) -> f32 { return {{EPILOGUE}}; }


// Writes columns nc .. nc + 3 of row m of C (those inside N); row = offset of the row in C.
fn store4(row: u32, m: u32, nc: u32, v: vec4<f32>) {
  for (var c = 0u; c < 4u; c++) {
    if (nc + c < p.N) { C[row + (nc + c) * p.sc_n] = epilogue(v[c], m, nc + c); }
  }
}

@compute @workgroup_size(8, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let batch = wg.z;
  var rem = batch;
  var xb = p.x_offset;
  var yb = p.y_offset;
  for (var d = i32(p.brank) - 1; d >= 0; d--) {
    let n = p.bshape[d];
    let c = rem % n;
    rem = rem / n;
    xb += c * p.x_bstride[d];
    yb += c * p.y_bstride[d];
  }
  let m0 = wg.x * {{ROWS}}u;
  let n0 = wg.y * 32u;
  let K4 = p.K / 4u;
  {{SETUP}}
  {{ACC}}
  for (var k4 = 0u; k4 < K4; k4++) {
    {{LOAD}}
    {{FMA}}
  }
  let cb = batch * p.c_bstride;
  {{STORE}}
}
