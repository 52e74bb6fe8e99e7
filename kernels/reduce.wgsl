// reduce.wgsl — one output element per thread, reducing over a set of input dimensions:
// sum / mean / max / min / prod / var / argmax / argmin / logsumexp, chosen by template.
//
// Layout: the host splits the input's dimensions into "kept" ones (those of the output, with
// their input strides) and "reduced" ones (with their input strides), collapsing reduced
// dimensions that are contiguous so the common case is a single strided loop. The output is
// contiguous. Barrier-free: each thread walks its whole reduction (good on lavapipe, where
// barriers are expensive; large single-output reductions are first split into partial sums by
// the host — see src/ops/reduce.ts).
//
// Template parameters: FIRST_PASS statements run before the main pass (var: the mean;
// logsumexp: the max, as `shift`), INIT accumulator initialisation, STEP update with `v` (value)
// and `j` (index along the reduction), FINISH the value written, WG workgroup size.

struct Params {
  kshape: array<vec4<u32>, 2>,   // kept (output) shape
  kstrides: array<vec4<u32>, 2>, // input strides of the kept dims
  rshape: array<vec4<u32>, 2>,   // reduced shape
  rstrides: array<vec4<u32>, 2>, // input strides of the reduced dims
  offset: u32,                   // input element offset
  numel: u32,                    // number of outputs
  krank: u32,
  rrank: u32,
  count: u32,                    // number of reduced elements per output
  correction: f32,               // var: 0 biased, 1 unbiased
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn reduced_offset(j: u32) -> u32 {
  if (p.rrank == 1u) { return j * p.rstrides[0][0]; }
  // One division per dimension, none for the outermost (see elementwise.wgsl).
  var rem = j;
  var off = 0u;
  for (var d = i32(p.rrank) - 1; d >= 1; d--) {
    let q = u32(d) >> 2u;
    let r = u32(d) & 3u;
    let n = p.rshape[q][r];
    let quo = rem / n;
    off += (rem - quo * n) * p.rstrides[q][r];
    rem = quo;
  }
  return off + rem * p.rstrides[0][0];
}

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * {{WG}}u;
  if (i >= p.numel) { return; }
  var rem = i;
  var base = p.offset;
  for (var d = i32(p.krank) - 1; d >= 0; d--) {
    let q = u32(d) >> 2u;
    let r = u32(d) & 3u;
    let n = p.kshape[q][r];
    base += (rem % n) * p.kstrides[q][r];
    rem = rem / n;
  }
  let count = p.count;
  {{FIRST_PASS}}
  {{INIT}}
  for (var j = 0u; j < count; j++) {
    let v = x[base + reduced_offset(j)];
    {{STEP}}
  }
  out[i] = {{FINISH}};
}
