// bitonic_sort.wgsl — one compare-exchange stage (k, j) of a bitonic sorting network over every
// row of keys/idx [rows, P] (P a power of two): the host runs the stages k = 2, 4, …, P and, for
// each, j = k/2, …, 1 (log2(P)·(log2(P)+1)/2 dispatches). One thread per pair; no workgroup
// memory, barriers or subgroups, so it runs on every adapter (lavapipe included).
//
// Order: `before(a, b)` says element a belongs in front of b: the larger value first when
// p.descending is 1, the smaller first otherwise; NaN counts as larger than every number (as in
// PyTorch); equal values keep index order (lower index first: a stable sort); padding (idx −1)
// goes after everything.

struct Params {
  rows: u32,
  P: u32,
  k: u32,            // size of the bitonic sequences being merged
  j: u32,            // distance between the elements compared
  descending: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> keys: array<f32>;
@group(0) @binding(2) var<storage, read_write> idx: array<i32>;

fn is_nan(v: f32) -> bool {
  // By bits: compilers may fold v != v away.
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

fn greater(a: f32, b: f32) -> bool {
  return (is_nan(a) && !is_nan(b)) || a > b;
}

fn before(a: f32, ia: i32, b: f32, ib: i32) -> bool {
  if (ia < 0) { return false; }
  if (ib < 0) { return true; }
  var first: bool;
  if (p.descending != 0u) { first = greater(a, b); } else { first = greater(b, a); }
  let equal = !greater(a, b) && !greater(b, a);
  return first || (equal && ia < ib);
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 256u;
  let half = p.P / 2u;
  if (t >= p.rows * half) { return; }
  let r = t / half;
  let q = t - r * half;
  let i = 2u * p.j * (q / p.j) + (q % p.j);  // the lower element of the pair, within the row
  let l = i + p.j;
  let base = r * p.P;
  let a = keys[base + i];
  let b = keys[base + l];
  let ia = idx[base + i];
  let ib = idx[base + l];
  // Sequences whose block bit (i & k) is 0 are sorted in the requested order, the others reversed.
  let forward = (i & p.k) == 0u;
  if (before(b, ib, a, ia) == forward) {
    keys[base + i] = b;
    keys[base + l] = a;
    idx[base + i] = ib;
    idx[base + l] = ia;
  }
}
