// matmul_tiled_db.wgsl — C[b, m, n] = Σ_k A[b, m, k] · B[b, k, n] for discrete GPUs, batched.
// A shared-memory GEMM: per step of BK k values the workgroup stages an A and a B tile in
// workgroup memory and every thread multiplies its block of outputs held in registers. Two
// things keep shared-memory traffic (the limit of the textbook kernel, 16 TFLOP/s on an H200
// where this one reaches 26 and its vec4-load twin matmul_tiled_db4.wgsl 38) and barriers down:
//
// * vec4 shared reads. A workgroup of 16×16 threads computes a BM × BN tile (BM = BN = 64·R);
//   thread (x, y) owns R×R blocks of 4×4 outputs: rows 4y + 64i + 0..3 and columns
//   4x + 64j + 0..3. Per k it reads R vec4s of A and R of B (4·R² vec4 FMAs) instead of 8·R
//   scalars; threads of one row read neighbouring vec4s of B, threads of one column the same vec4
//   of A (a broadcast).
// * Double-buffered tiles. While the workgroup multiplies k tile t out of one shared buffer, each
//   thread has already loaded tile t+1 from global memory into registers and stores it into the
//   other buffer: one barrier per BK step instead of two, and global latency hidden behind math.
//
// Operands are read through strides (transposed views cost no copy); the staging loop walks along
// whichever axis of an operand is contiguous, so global loads coalesce. Barriers are cheap on GPUs
// and ruinous on software rasterisers (llvmpipe runs them as coroutine switches): matmul.ts picks
// this kernel for discrete adapters only.

struct Params {
  bshape: vec4<u32>,     // batch shape (up to 4 dims after merging), row-major
  a_bstride: vec4<u32>,  // A's stride per batch dim (0 = broadcast)
  b_bstride: vec4<u32>,
  M: u32, N: u32, K: u32, brank: u32,
  a_offset: u32, b_offset: u32,
  sa_m: u32, sa_k: u32,
  sb_k: u32, sb_n: u32,
}

const R: u32 = {{R}}u;      // 4×4 blocks per thread along each axis
const BK: u32 = {{BK}}u;    // k values per shared tile
const BM: u32 = 64u * R;    // tile rows (= tile columns)
const V: u32 = BM / 4u;     // vec4s per tile row of k
const LOADS: u32 = BM * BK / 256u; // values of each operand a thread stages per tile

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
{{EPILOGUE_DECL}}
// The value stored for output (m, n): v, or v + bias and/or an activation that matmul.ts fuses
// in (linear's x·Wᵀ + b → ReLU); m, n are this kernel's output coordinates.
fn epilogue(v: f32, m: u32, n: u32) -> f32 { return {{EPILOGUE}}; }

var<workgroup> As: array<vec4<f32>, 2u * BK * V>;  // As[buf][k][m / 4][m % 4]
var<workgroup> Bs: array<vec4<f32>, 2u * BK * V>;  // Bs[buf][k][n / 4][n % 4]

// Position (row-or-column index within the tile, k within the tile) of staged value i: walk
// the contiguous axis of the operand fastest.
fn stage_pos(i: u32, k_contiguous: bool) -> vec2<u32> {
  if (k_contiguous) { return vec2<u32>(i / BK, i % BK); }
  return vec2<u32>(i % BM, i / BM);
}

// Global → one value of A (of B when `is_b`) at tile position `pos` of the tile at (x0, k0); zero
// past the edges (the index is clamped so that the load itself stays in bounds).
fn load(is_b: bool, base: u32, x0: u32, k0: u32, pos: vec2<u32>) -> f32 {
  let x = x0 + pos.x;
  let k = k0 + pos.y;
  if (is_b) { return select(0.0, B[base + min(k, p.K - 1u) * p.sb_k + min(x, p.N - 1u) * p.sb_n], x < p.N && k < p.K); }
  return select(0.0, A[base + min(x, p.M - 1u) * p.sa_m + min(k, p.K - 1u) * p.sa_k], x < p.M && k < p.K);
}

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) tid: u32) {
  var rem = wg.z;
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
  let n0 = wg.x * BM;
  let a_kc = p.sa_k == 1u;
  let b_kc = p.sb_n != 1u && p.sb_k == 1u;

  var ra: array<f32, LOADS>;
  var rb: array<f32, LOADS>;
  var k0 = 0u;
  for (var l = 0u; l < LOADS; l++) {
    ra[l] = load(false, a_base, m0, k0, stage_pos(tid + 256u * l, a_kc));
    rb[l] = load(true, b_base, n0, k0, stage_pos(tid + 256u * l, b_kc));
  }

  var acc: array<vec4<f32>, 4u * R * R>;  // acc[(i·4 + r)·R + j]: row 4y + 64i + r, columns 4x + 64j + 0..3
  var buf = 0u;
  loop {
    // Registers → shared buffer `buf`.
    for (var l = 0u; l < LOADS; l++) {
      let pa = stage_pos(tid + 256u * l, a_kc);
      As[(buf * BK + pa.y) * V + pa.x / 4u][pa.x % 4u] = ra[l];
      let pb = stage_pos(tid + 256u * l, b_kc);
      Bs[(buf * BK + pb.y) * V + pb.x / 4u][pb.x % 4u] = rb[l];
    }
    workgroupBarrier();
    let next = k0 + BK;
    // Prefetch the next tile into registers while this one is multiplied; they go to the other
    // buffer at the top of the next step, which every thread finished reading before the barrier
    // above.
    if (next < p.K) {
      for (var l = 0u; l < LOADS; l++) {
        ra[l] = load(false, a_base, m0, next, stage_pos(tid + 256u * l, a_kc));
        rb[l] = load(true, b_base, n0, next, stage_pos(tid + 256u * l, b_kc));
      }
    }
    for (var kk = 0u; kk < BK; kk++) {
      let row = (buf * BK + kk) * V;
      var a: array<vec4<f32>, R>;
      var b: array<vec4<f32>, R>;
      for (var i = 0u; i < R; i++) { a[i] = As[row + lid.y + 16u * i]; }
      for (var j = 0u; j < R; j++) { b[j] = Bs[row + lid.x + 16u * j]; }
      for (var i = 0u; i < R; i++) {
        for (var r = 0u; r < 4u; r++) {
          for (var j = 0u; j < R; j++) {
            let s = (i * 4u + r) * R + j;
            acc[s] = fma(vec4<f32>(a[i][r]), b[j], acc[s]);
          }
        }
      }
    }
    k0 = next;
    if (k0 >= p.K) { break; }
    buf = 1u - buf;
  }

  let c_base = wg.z * p.M * p.N;
  for (var i = 0u; i < R; i++) {
    for (var r = 0u; r < 4u; r++) {
      let m = m0 + 4u * lid.y + 64u * i + r;
      if (m >= p.M) { continue; }
      for (var j = 0u; j < R; j++) {
        let v = acc[(i * 4u + r) * R + j];
        let n = n0 + 4u * lid.x + 64u * j;
        for (var c = 0u; c < 4u; c++) {
          if (n + c < p.N) { C[c_base + m * p.N + n + c] = epilogue(v[c], m, n + c); }
        }
      }
    }
  }
}
