// cross_entropy.wgsl — per-row loss of a classifier, one thread per row of scores x [N, C]
// (any strides) with int32 targets t [N]:
//   loss[i] = soft·lse_i − pick·x[i, t_i] − uni·Σ_c x[i, c],   lse_i = log Σ_c exp(x[i, c])
// crossEntropy with label smoothing ε: soft = 1, pick = 1 − ε, uni = ε/C
// (= (1 − ε)·(−log p_t) + (ε/C)·Σ_c (−log p_c)); nllLoss on log-probabilities: soft = 0,
// pick = 1, uni = 0. lse = m + log s is computed in one pass (running max m, rescaled sum s)
// only when soft != 0. Output: out[i] = loss[i], out[N + i] = m_i, out[2N + i] = log s_i (saved
// for kernels/cross_entropy_backward.wgsl).
// A target outside 0..C−1 gives a NaN loss (host-side targets are checked before launch).

struct Params {
  N: u32,
  C: u32,
  x_offset: u32,
  x_row: u32,      // stride between rows of x
  x_col: u32,      // stride between classes
  t_offset: u32,
  t_stride: u32,
  soft: f32,
  pick: f32,
  uni: f32,
  nan: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.N) { return; }
  let base = p.x_offset + i * p.x_row;
  let t = labels[p.t_offset + i * p.t_stride];
  var m = 0.0;
  var log_s = 0.0;
  if (p.soft != 0.0) {
    m = x[base];
    var s = 0.0;
    for (var c = 0u; c < p.C; c++) {
      let v = x[base + c * p.x_col];
      if (v > m) { s = s * exp(m - v); m = v; }
      if (v >= -3.4e38) { s += exp(v - m); } // −inf adds nothing (and no NaN)
    }
    log_s = log(s);
  }
  var total = 0.0;
  if (p.uni != 0.0) {
    for (var c = 0u; c < p.C; c++) { total += x[base + c * p.x_col]; }
  }
  var loss = p.nan;
  if (t >= 0 && u32(t) < p.C) {
    // The large terms first (x ≈ m), log Σ last: keeps f32 accuracy for logits in the 1000s.
    loss = (p.soft * m - p.pick * x[base + u32(t) * p.x_col] - p.uni * total) + p.soft * log_s;
  }
  out[i] = loss;
  out[p.N + i] = m;
  out[2u * p.N + i] = log_s;
}
