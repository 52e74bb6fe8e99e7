// batchnorm_finish.wgsl — one thread per channel c: adds up the partial sums of
// kernels/batchnorm_stats.wgsl for every group of c and turns them into per-(group, channel)
// coefficients that kernels/batchnorm_apply.wgsl applies pointwise.
//
// Output `out` (f32, 4 values per entry): entries pair = group·C + c, then C per-channel entries.
// Forward (BACKWARD false), with mean and biased var of the pair, istd = 1/sqrt(var + eps):
//   out[pair] = (w·istd, b − mean·w·istd, mean, istd)          y = x·[0] + [1]
//   out[G·C + c] = (mean over groups of the group means, mean over groups of the unbiased
//                   variances, 0, 0)                               for the running statistics
// Backward (BACKWARD true), from Σg and Σg·(x − mean) and the forward entries in `saved`
// (A = w·istd, R = elements per pair, Σg·x̂ = istd·Σg·(x − mean)):
//   out[pair] = (A, B = −A/R·istd·Σg·x̂, −A/R·Σg − mean·B, 0)   gx = g·[0] + x·[1] + [2]
//   out[G·C + c] = (Σ over groups of Σg·x̂ = dL/dweight, Σ over groups of Σg = dL/dbias, 0, 0)
// weight / bias are optional (has_w / has_b = 0: 1 and 0); unused bindings get any buffer.
// Template parameters: BACKWARD (true / false).

struct Params {
  C: u32,
  groups: u32,
  chunks: u32,
  count: u32,
  eps: f32,
  has_w: u32,
  has_b: u32,
  x_offset: u32,
  xs_n: u32,
  xs_c: u32,
  w_offset: u32,
  w_stride: u32,
  b_offset: u32,
  b_stride: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> saved: array<f32>;
@group(0) @binding(4) var<storage, read> weight: array<f32>;
@group(0) @binding(5) var<storage, read> bias: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

const BACKWARD = {{BACKWARD}};

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.C) { return; }
  var wv = 1.0;
  if (p.has_w != 0u) { wv = weight[p.w_offset + c * p.w_stride]; }
  var bv = 0.0;
  if (p.has_b != 0u) { bv = bias[p.b_offset + c * p.b_stride]; }
  let R = f32(p.count);
  var total = vec2<f32>(0.0);
  for (var grp = 0u; grp < p.groups; grp++) {
    let pair = grp * p.C + c;
    var s = vec2<f32>(0.0);
    for (var k = 0u; k < p.chunks; k++) {
      let t = pair * p.chunks + k;
      s += vec2<f32>(partial[2u * t], partial[2u * t + 1u]);
    }
    if (BACKWARD) {
      let mean = saved[4u * pair + 2u];
      let istd = saved[4u * pair + 3u];
      let sgxhat = istd * s.y;
      let A = wv * istd;
      let B = -A / R * istd * sgxhat;
      out[4u * pair] = A;
      out[4u * pair + 1u] = B;
      out[4u * pair + 2u] = -A / R * s.x - mean * B;
      out[4u * pair + 3u] = 0.0;
      total += vec2<f32>(sgxhat, s.x);
    } else {
      let m1 = s.x / R;
      let mean = x[p.x_offset + grp * p.xs_n + c * p.xs_c] + m1;
      let v = max(s.y / R - m1 * m1, 0.0);
      let istd = inverseSqrt(v + p.eps);
      out[4u * pair] = wv * istd;
      out[4u * pair + 1u] = bv - mean * wv * istd;
      out[4u * pair + 2u] = mean;
      out[4u * pair + 3u] = istd;
      total += vec2<f32>(mean, v * R / (R - 1.0));
    }
  }
  let tail = 4u * (p.groups * p.C + c);
  if (BACKWARD) {
    out[tail] = total.x;
    out[tail + 1u] = total.y;
  } else {
    out[tail] = total.x / f32(p.groups);
    out[tail + 1u] = total.y / f32(p.groups);
  }
  out[tail + 2u] = 0.0;
  out[tail + 3u] = 0.0;
}
