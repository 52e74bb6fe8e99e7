// matmul_tiled.wgsl — C[b, m, n] = Σ_k A[b, m, k] · B[b, k, n] for discrete GPUs, batched.
//
// The classic shared-memory GEMM: a workgroup of 16×16 threads computes a tile of BM × BN outputs
// (BM = 16·TM, BN = 16·TN; TM = TN = 8 gives 128×128), each thread a TM × TN block held in
// registers. Per step of BK k values the workgroup stages an A tile [BK, BM] and a B tile [BK, BN]
// in workgroup memory (zero-filled past the edges), then every thread reads TM values of A and TN
// of B per k and does TM·TN multiply-adds: 2·TM·TN flops per 2·(TM + TN) shared-memory reads.
// Thread (x, y) owns rows y + 16i and columns x + 16j, so neighbouring threads read neighbouring
// shared-memory words (no bank conflicts) and write neighbouring outputs (coalesced stores).
// Operands are read through strides (a transposed view costs no copy); the staging loop walks
// along whichever of an operand's two axes is contiguous, so global loads stay coalesced.
// Two barriers per BK step: cheap on GPUs, ruinous on software rasterisers (llvmpipe runs
// barriers as coroutine switches) — matmul.ts selects this kernel only for discrete adapters.

struct Params {
  bshape: vec4<u32>,     // batch shape (up to 4 dims after merging), row-major
  a_bstride: vec4<u32>,  // A's stride per batch dim (0 = broadcast)
  b_bstride: vec4<u32>,
  M: u32, N: u32, K: u32, brank: u32,
  a_offset: u32, b_offset: u32,
  sa_m: u32, sa_k: u32,
  sb_k: u32, sb_n: u32,
}

const TM: u32 = {{TM}}u;
const TN: u32 = {{TN}}u;
const BK: u32 = {{BK}}u;
const BM: u32 = 16u * TM;
const BN: u32 = 16u * TN;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;

var<workgroup> As: array<f32, BK * BM>;  // As[k * BM + m]
var<workgroup> Bs: array<f32, BK * BN>;  // Bs[k * BN + n]

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) tid: u32) {
  let batch = wg.z;
  var rem = batch;
  var a_base = p.a_offset;
  var b_base = p.b_offset;
  for (var d = i32(p.brank) - 1; d >= 0; d--) {
    let n = p.bshape[d];
    let c = rem % n;
    rem = rem / n;
    a_base += c * p.a_bstride[d];
    b_base += c * p.b_bstride[d];
  }
  let m0 = wg.y * BM;
  let n0 = wg.x * BN;
  var acc: array<f32, TM * TN>;
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    for (var i = tid; i < BM * BK; i += 256u) {
      var mm = i % BM;
      var kk = i / BM;
      if (p.sa_k == 1u) { mm = i / BK; kk = i % BK; }
      let m = m0 + mm;
      let k = k0 + kk;
      var v = 0.0;
      if (m < p.M && k < p.K) { v = A[a_base + m * p.sa_m + k * p.sa_k]; }
      As[kk * BM + mm] = v;
    }
    for (var i = tid; i < BN * BK; i += 256u) {
      var nn = i % BN;
      var kk = i / BN;
      if (p.sb_n != 1u && p.sb_k == 1u) { nn = i / BK; kk = i % BK; }
      let n = n0 + nn;
      let k = k0 + kk;
      var v = 0.0;
      if (n < p.N && k < p.K) { v = B[b_base + k * p.sb_k + n * p.sb_n]; }
      Bs[kk * BN + nn] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      var a: array<f32, TM>;
      var b: array<f32, TN>;
      for (var i = 0u; i < TM; i++) { a[i] = As[kk * BM + lid.y + 16u * i]; }
      for (var j = 0u; j < TN; j++) { b[j] = Bs[kk * BN + lid.x + 16u * j]; }
      for (var i = 0u; i < TM; i++) {
        for (var j = 0u; j < TN; j++) { acc[i * TN + j] = fma(a[i], b[j], acc[i * TN + j]); }
      }
    }
    workgroupBarrier();
  }
  let c_base = batch * p.M * p.N;
  for (var i = 0u; i < TM; i++) {
    let m = m0 + lid.y + 16u * i;
    if (m >= p.M) { break; }
    for (var j = 0u; j < TN; j++) {
      let n = n0 + lid.x + 16u * j;
      if (n < p.N) { C[c_base + m * p.N + n] = acc[i * TN + j]; }
    }
  }
}
