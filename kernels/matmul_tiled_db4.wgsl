// matmul_tiled_db4.wgsl — matmul_tiled_db.wgsl with vec4 global loads, for operands whose
// contiguous axis, offsets and other strides are multiples of 4 (matmul.ts checks; otherwise it
// runs matmul_tiled_db.wgsl). Each thread stages LV vec4s of each operand per k tile instead of
// 4·LV scalars: a quarter of the load instructions and index arithmetic. The tile shape, the
// thread → output map, vec4 shared reads and double buffering are matmul_tiled_db.wgsl's.

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
const KV: u32 = BK / 4u;    // vec4s per tile row/column along k
const LV: u32 = BM * BK / 1024u; // vec4s of each operand a thread stages per tile

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> B: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
{{EPILOGUE_DECL}}
// The value stored for output (m, n): v, or v + bias and/or an activation that matmul.ts fuses
// in (linear's x·Wᵀ + b → ReLU); m, n are this kernel's output coordinates.
fn epilogue(v: f32, m: u32, n: u32) -> f32 { return {{EPILOGUE}}; }

var<workgroup> As: array<vec4<f32>, 2u * BK * V>;  // As[buf][k][m / 4][m % 4]
var<workgroup> Bs: array<vec4<f32>, 2u * BK * V>;  // Bs[buf][k][n / 4][n % 4]

// Staged vec4 i of a tile: (row or column within the tile, k within the tile) of its first value;
// it runs along k when k is the contiguous axis, else along the row/column.
fn stage_pos(i: u32, k_contiguous: bool) -> vec2<u32> {
  if (k_contiguous) { return vec2<u32>(i / KV, 4u * (i % KV)); }
  return vec2<u32>(4u * (i % V), i / V);
}

// Global → vec4 of A (of B when `is_b`) at tile position `pos` of the tile at (x0, k0).
fn load(is_b: bool, base: u32, x0: u32, k0: u32, pos: vec2<u32>) -> vec4<f32> {
  let x = x0 + pos.x;
  let k = k0 + pos.y;
  if (is_b) {
    if (x < p.N && k < p.K) { return B[(base + x * p.sb_n + k * p.sb_k) / 4u]; }
  } else {
    if (x < p.M && k < p.K) { return A[(base + x * p.sa_m + k * p.sa_k) / 4u]; }
  }
  return vec4<f32>(0.0);
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
  let b_kc = p.sb_n != 1u;

  var ra: array<vec4<f32>, LV>;
  var rb: array<vec4<f32>, LV>;
  var k0 = 0u;
  for (var l = 0u; l < LV; l++) {
    ra[l] = load(false, a_base, m0, k0, stage_pos(tid + 256u * l, a_kc));
    rb[l] = load(true, b_base, n0, k0, stage_pos(tid + 256u * l, b_kc));
  }

  var acc: array<vec4<f32>, 4u * R * R>;  // acc[(i·4 + r)·R + j]: row 4y + 64i + r, columns 4x + 64j + 0..3
  var buf = 0u;
  loop {
    // Registers → shared buffer `buf` (scattered over 4 k rows when k is contiguous).
    for (var l = 0u; l < LV; l++) {
      let pa = stage_pos(tid + 256u * l, a_kc);
      if (a_kc) {
        for (var c = 0u; c < 4u; c++) { As[(buf * BK + pa.y + c) * V + pa.x / 4u][pa.x % 4u] = ra[l][c]; }
      } else {
        As[(buf * BK + pa.y) * V + pa.x / 4u] = ra[l];
      }
      let pb = stage_pos(tid + 256u * l, b_kc);
      if (b_kc) {
        for (var c = 0u; c < 4u; c++) { Bs[(buf * BK + pb.y + c) * V + pb.x / 4u][pb.x % 4u] = rb[l][c]; }
      } else {
        Bs[(buf * BK + pb.y) * V + pb.x / 4u] = rb[l];
      }
    }
    workgroupBarrier();
    let next = k0 + BK;
    // Prefetch the next tile into registers while this one is multiplied.
    if (next < p.K) {
      for (var l = 0u; l < LV; l++) {
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
