// matmul_tiled.wgsl — C[b, m, n] = Σ_k A[b, m, k] · B[b, k, n] for discrete GPUs, batched.
// A shared-memory GEMM: per step of BK k values the workgroup stages an A and a B tile in
// workgroup memory and every thread multiplies its block of outputs held in registers. Two
// things keep shared-memory traffic (the limit of the textbook kernel) and barriers down:
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
// Global loads: W values at a time (matmulTuning.tiled in src/ops/tuning.ts). W = 1 ('db'):
// scalars through any strides. W = 4 ('db4'): vec4s along each operand's contiguous axis, for
// operands whose contiguous axis, offsets and other strides are multiples of 4 (matmul-launch.ts
// checks, else it runs W = 1): a quarter of the load instructions and index arithmetic.
// Operands are read through strides (transposed views cost no copy); the staging loop walks along
// whichever axis of an operand is contiguous, so global loads coalesce. Barriers are cheap on GPUs
// and ruinous on software rasterisers (llvmpipe runs them as coroutine switches): matmul-launch.ts
// picks this kernel for discrete adapters only.

//! include matmul_params
//! include matmul_epilogue

const R: u32 = {{R}}u;      // 4×4 blocks per thread along each axis
const BK: u32 = {{BK}}u;    // k values per shared tile
const W: u32 = {{W}}u;      // values per global load: 1 or 4
alias Load = {{LOAD}};      // f32 (W = 1) or vec4<f32> (W = 4)
const BM: u32 = 64u * R;    // tile rows (= tile columns)
const V: u32 = BM / 4u;     // vec4s per tile row of k
const LOADS: u32 = BM * BK / (256u * W); // loads of each operand a thread stages per tile

@group(0) @binding(1) var<storage, read> A: array<Load>;
@group(0) @binding(2) var<storage, read> B: array<Load>;

var<workgroup> As: array<vec4<f32>, 2u * BK * V>;  // As[buf][k][m / 4][m % 4]
var<workgroup> Bs: array<vec4<f32>, 2u * BK * V>;  // Bs[buf][k][n / 4][n % 4]

// Staged load i of a tile: (row or column within the tile, k within the tile) of its first value;
// walks the contiguous axis of the operand fastest (its W values run along that axis).
fn stage_pos(i: u32, k_contiguous: bool) -> vec2<u32> {
  if (k_contiguous) { return vec2<u32>(i / (BK / W), W * (i % (BK / W))); }
  return vec2<u32>(W * (i % (BM / W)), i / (BM / W));
}

// Global → W values of A (of B when `is_b`) at tile position `pos` of the tile at (x0, k0); zero
// past the edges (the index is clamped so that the load itself stays in bounds).
fn load(is_b: bool, base: u32, x0: u32, k0: u32, pos: vec2<u32>) -> Load {
  let x = x0 + pos.x;
  let k = k0 + pos.y;
  if (is_b) { return select(Load(), B[(base + min(k, p.K - 1u) * p.sb_k + min(x, p.N - 1u) * p.sb_n) / W], x < p.N && k < p.K); }
  return select(Load(), A[(base + min(x, p.M - 1u) * p.sa_m + min(k, p.K - 1u) * p.sa_k) / W], x < p.M && k < p.K);
}

// Registers → shared tile `s` (As or Bs as a pointer) of buffer `buf`: the W values of one load.
// Along k they go to W rows of the tile; along m / n (W = 4) they are one vec4 of the row.
fn stage(s: ptr<workgroup, array<vec4<f32>, 2u * BK * V>>, buf: u32, pos: vec2<u32>, v: Load, k_contiguous: bool) {
  let w = vec4<f32>(v); // the 4 values (W = 4) or one value 4 times (W = 1)
  if (W == 4u && !k_contiguous) {
    (*s)[(buf * BK + pos.y) * V + pos.x / 4u] = w;
  } else {
    for (var c = 0u; c < W; c++) { (*s)[(buf * BK + pos.y + c) * V + pos.x / 4u][pos.x % 4u] = w[c]; }
  }
}

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) tid: u32) {
  let bases = batch_bases(wg.z);
  let a_base = bases.x;
  let b_base = bases.y;
  let m0 = wg.y * BM;
  let n0 = wg.x * BM;
  let a_kc = p.sa_k == 1u;
  let b_kc = p.sb_n != 1u && p.sb_k == 1u;

  var ra: array<Load, LOADS>;
  var rb: array<Load, LOADS>;
  var k0 = 0u;
  for (var l = 0u; l < LOADS; l++) {
    ra[l] = load(false, a_base, m0, k0, stage_pos(tid + 256u * l, a_kc));
    rb[l] = load(true, b_base, n0, k0, stage_pos(tid + 256u * l, b_kc));
  }

  var acc: array<vec4<f32>, 4u * R * R>;  // acc[(i·4 + r)·R + j]: row 4y + 64i + r, columns 4x + 64j + 0..3
  var buf = 0u;
  loop {
    for (var l = 0u; l < LOADS; l++) {
      stage(&As, buf, stage_pos(tid + 256u * l, a_kc), ra[l], a_kc);
      stage(&Bs, buf, stage_pos(tid + 256u * l, b_kc), rb[l], b_kc);
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

  for (var i = 0u; i < R; i++) {
    for (var r = 0u; r < 4u; r++) {
      let m = m0 + 4u * lid.y + 64u * i + r;
      if (m >= p.M) { continue; }
      for (var j = 0u; j < R; j++) {
        let v = acc[(i * 4u + r) * R + j];
        let n = n0 + 4u * lid.x + 64u * j;
        for (var c = 0u; c < 4u; c++) {
          if (n + c < p.N) { store_c(wg.z, m, n + c, v[c]); }
        }
      }
    }
  }
}
