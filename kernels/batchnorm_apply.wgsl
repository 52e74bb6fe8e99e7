// batchnorm_apply.wgsl — the pointwise half of batch norm, generic path: one thread per element
// of x [N, C, H, W] (any strides; the output is contiguous), with per-(group, channel)
// coefficients from kernels/batchnorm_finish.wgsl (pair = (n % groups)·C + c):
//   forward  (BACKWARD false):  y  = x·coef[pair].0 + coef[pair].1          (normalise + affine)
//   backward (BACKWARD true):   gx = g·coef[pair].0 + x·coef[pair].1 + coef[pair].2
// so the full training-mode gradient (through mean and variance) is one fused pass.
// RELU true fuses a following ReLU: the forward writes max(y, 0); the backward first masks g by
// (y > 0), recomputing y = x·saved[pair].0 + saved[pair].1 from the forward coefficients `saved`
// (the same expression as the forward, so the same mask). Without RELU `saved` is unused.
// Four integer div/mods per element make this slow on CPU rasterisers (lavapipe scalarises
// them): contiguous inputs with H·W % 4 = 0 take kernels/batchnorm_apply_vec4.wgsl instead.
// Template parameters: BACKWARD, RELU (true / false).

struct Params {
  dims: vec4<u32>,   // N, C, H, W
  xs: vec4<u32>,     // strides of x
  gs: vec4<u32>,     // strides of g (backward)
  x_offset: u32,
  g_offset: u32,
  groups: u32,
  numel: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> coef: array<f32>;
@group(0) @binding(4) var<storage, read> saved: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

const BACKWARD = {{BACKWARD}};
const RELU = {{RELU}};

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.numel) { return; }
  let w = i % p.dims.w;
  let h = (i / p.dims.w) % p.dims.z;
  let nc = i / (p.dims.w * p.dims.z);
  let c = nc % p.dims.y;
  let n = nc / p.dims.y;
  let k = 4u * ((n % p.groups) * p.dims.y + c);
  let xv = x[p.x_offset + n * p.xs.x + c * p.xs.y + h * p.xs.z + w * p.xs.w];
  if (BACKWARD) {
    var gv = g[p.g_offset + n * p.gs.x + c * p.gs.y + h * p.gs.z + w * p.gs.w];
    if (RELU) { gv = select(0.0, gv, xv * saved[k] + saved[k + 1u] > 0.0); }
    out[i] = gv * coef[k] + xv * coef[k + 1u] + coef[k + 2u];
  } else {
    let y = xv * coef[k] + coef[k + 1u];
    if (RELU) { out[i] = max(y, 0.0); } else { out[i] = y; }
  }
}
