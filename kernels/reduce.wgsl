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
// and `j` (index along the reduction), FINISH the value written, KEPT_INDEX and REDUCED_OFFSET
// the index code (below), WG workgroup size.

struct Params {
  kshape: array<vec4<u32>, 2>,   // kept (output) shape
  kstrides: array<vec4<u32>, 2>, // input strides of the kept dims
  rshape: array<vec4<u32>, 2>,   // reduced shape
  rstrides: array<vec4<u32>, 2>, // input strides of the reduced dims
  offset: u32,                   // input element offset
  numel: u32,                    // number of outputs
  count: u32,                    // number of reduced elements per output
  correction: f32,               // var: 0 biased, 1 unbiased
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<{{OUT_T}}>;  // i32 for argmax / argmin

// The input offset of the j-th reduced element (REDUCED_OFFSET) and the base offset of output i
// (KEPT_INDEX) decode an index into coordinates, innermost dimension first: code generated for
// the ranks at hand (decodeIndex in src/ops/index-decode.ts), with constant indices into the uniforms
// (a loop indexing them by its counter ran several times slower on lavapipe), one integer
// division per dimension and none for the outermost (as the elementwise kernels).
fn reduced_offset(j: u32) -> u32 {
  {{REDUCED_OFFSET}}
}

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * {{WG}}u;
  if (i >= p.numel) { return; }
  var base = p.offset;
  {{KEPT_INDEX}}
  let count = p.count;
  {{FIRST_PASS}}
  {{INIT}}
  for (var j = 0u; j < count; j++) {
    let v = x[base + reduced_offset(j)];
    {{STEP}}
  }
  out[i] = {{FINISH}};
}
