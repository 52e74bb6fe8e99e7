// batchnorm_apply.wgsl — the pointwise half of batch norm, generic path for x [N, C, H, W] with
// any strides (the output is contiguous), with per-(group, channel) coefficients from
// kernels/batchnorm_finish.wgsl (pair = (n % groups)·C + c):
//   forward  (BACKWARD false):  y  = x·coef[pair].0 + coef[pair].1          (normalise + affine)
//   backward (BACKWARD true):   gx = g·coef[pair].0 + x·coef[pair].1 + coef[pair].2
// so the full training-mode gradient (through mean and variance) is one fused pass.
// RELU true fuses a following ReLU: the forward writes max(y, 0); the backward first masks g by
// (y > 0), recomputing y = x·saved[pair].0 + saved[pair].1 from the forward coefficients `saved`
// (the same expression as the forward, so the same mask). Without RELU `saved` is unused.
// Layout (PLANES): true: one workgroup of 64 per (n, c) plane, so n and c are per workgroup and
// no element needs an integer division (lavapipe scalarises them; used for planes of ≥ 128
// elements, e.g. the strided 14×14 views conv2d returns); false: one thread per element, with
// four div/mods each (small planes, [N, C] inputs). Contiguous inputs with H·W % 4 = 0 take
// kernels/batchnorm_apply_vec4.wgsl instead, by far the fastest.
// Template parameters: BACKWARD, RELU, PLANES (true / false).

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
const PLANES = {{PLANES}};

fn apply(n: u32, c: u32, h: u32, w: u32, i: u32) {
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

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
  let wg = wid.x + wid.y * nwg.x;
  let H = p.dims.z;
  let W = p.dims.w;
  if (PLANES) {
    // One workgroup per (n, c) plane; thread li covers column w0 (+ 64, + 128, ... when W > 64)
    // of rows r0, r0 + R, r0 + 2R, ... with R = max(1, 64 / W) rows per step: one division per
    // thread, none per element.
    let nc = wg;
    if (nc >= p.dims.x * p.dims.y) { return; }
    let n = nc / p.dims.y;
    let c = nc - n * p.dims.y;
    let R = max(1u, 64u / W);
    let r0 = li / W;
    let w0 = li - r0 * W;
    if (r0 >= R) { return; }
    let base = nc * H * W;
    for (var h = r0; h < H; h += R) {
      for (var w = w0; w < W; w += 64u) { apply(n, c, h, w, base + h * W + w); }
    }
  } else {
    let i = wg * 64u + li;
    if (i >= p.numel) { return; }
    let w = i % W;
    let h = (i / W) % H;
    let nc = i / (W * H);
    apply(nc / p.dims.y, nc % p.dims.y, h, w, i);
  }
}
