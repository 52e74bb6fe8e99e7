// batchnorm_stats.wgsl — partial per-channel sums for batch norm, in the forward and the backward
// pass. The values of one (group, channel) pair are the R = (N / groups)·H·W elements
// x[n, c, h, w] with n % groups = group (MoCo's interleaved SplitBatchNorm; groups = 1 is plain
// batch norm). They are cut into `chunks` runs of `chunk` elements; one thread sums one run, so
// a 200k-element channel is reduced by hundreds of threads without barriers (cheap on lavapipe).
// kernels/batchnorm_finish.wgsl combines the runs. Contiguous inputs with H·W % 4 = 0, and
// conv2d's padded crop views, take kernels/batchnorm_stats_vec4.wgsl (the same sums with vec4
// loads) instead.
//
// Forward (BACKWARD false): sums of u = x − K and u², with K = the pair's first element, a shift
// that keeps the variance E[u²] − E[u]² accurate in f32.
// Backward (BACKWARD true): sums of g and g·(x − mean), with the mean saved by the forward pass
// in coef[4·pair + 2]. RELU true (batch norm fused with a ReLU): g is first masked by y > 0,
// y = x·coef[4·pair] + coef[4·pair + 1] recomputed from the forward coefficients.
//
// Layout: x and g are [N, C, H, W] views with any strides (a 2-D input has H = W = 1); output
// partial[2·t], partial[2·t + 1] for thread t = pair·chunks + run, pair = group·C + c.
// Template parameters: BACKWARD, RELU (true / false).

struct Params {
  dims: vec4<u32>,   // N, C, H, W
  xs: vec4<u32>,     // strides of x
  gs: vec4<u32>,     // strides of g
  x_offset: u32,
  g_offset: u32,
  groups: u32,
  count: u32,        // R, elements per (group, channel)
  chunk: u32,        // elements per run
  chunks: u32,       // runs per (group, channel)
  total: u32,        // groups · C · chunks threads
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> coef: array<f32>;
@group(0) @binding(4) var<storage, read_write> partial: array<f32>;

const BACKWARD = {{BACKWARD}};
const RELU = {{RELU}};

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 64u;
  if (t >= p.total) { return; }
  let pair = t / p.chunks;
  let C = p.dims.y;
  let H = p.dims.z;
  let W = p.dims.w;
  let grp = pair / C;
  let c = pair % C;
  let j0 = (t % p.chunks) * p.chunk;
  let j1 = min(p.count, j0 + p.chunk);
  // Position of element j0 of the pair: local sample nl (sample nl·groups + grp), row h, column w.
  var nl = j0 / (H * W);
  var h = (j0 / W) % H;
  var w = j0 % W;
  let xbase = p.x_offset + c * p.xs.y;
  let gbase = p.g_offset + c * p.gs.y;
  var center = 0.0;
  var ya = 0.0;
  var yb = 0.0;
  if (BACKWARD) {
    center = coef[4u * pair + 2u];
    ya = coef[4u * pair];
    yb = coef[4u * pair + 1u];
  } else {
    center = x[xbase + grp * p.xs.x];
  }
  var acc = vec2<f32>(0.0);
  for (var j = j0; j < j1; j++) {
    let n = nl * p.groups + grp;
    let xv = x[xbase + n * p.xs.x + h * p.xs.z + w * p.xs.w];
    let u = xv - center;
    if (BACKWARD) {
      var gv = g[gbase + n * p.gs.x + h * p.gs.z + w * p.gs.w];
      if (RELU) { gv = select(0.0, gv, xv * ya + yb > 0.0); }
      acc += vec2<f32>(gv, gv * u);
    } else {
      acc += vec2<f32>(u, u * u);
    }
    w++;
    if (w == W) {
      w = 0u;
      h++;
      if (h == H) { h = 0u; nl++; }
    }
  }
  partial[2u * t] = acc.x;
  partial[2u * t + 1u] = acc.y;
}
