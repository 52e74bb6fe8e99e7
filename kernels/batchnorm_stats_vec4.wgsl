// batchnorm_stats_vec4.wgsl — the fast path of kernels/batchnorm_stats.wgsl (same partial sums,
// same output layout, same RELU masking): x (and g) contiguous [N, C, H, W] with H·W % 4 = 0 and
// offsets divisible by 4. The R / 4 vec4s of a (group, channel) pair are cut into `chunks` runs
// of `chunk` vec4s; one thread sums one run with vec4 loads (lavapipe: vector loads instead of
// gathers) and folds the four lanes at the end. Position in the run: local sample nl (sample
// nl·groups + group) and vec4 q of the plane, stepped without divisions.
//   forward:  Σ u, Σ u², u = x − K (K = the pair's first element)
//   backward: Σ g, Σ g·(x − mean) (g masked by x·coef.0 + coef.1 > 0 when RELU)
// PADDED true: x (and g, in the same layout) are the top-left [H, W] crops of planes padded to
// hw4 vec4s in rows of w4 vec4s (conv2d's outputs and input gradients, src/ops/shape.ts
// paddedPlanes): the runs walk the whole padded planes and lanes outside the crop count as 0
// (select, so whatever the padding holds, NaN included, adds nothing).
// Template parameters: BACKWARD, RELU, PADDED (true / false).

struct Params {
  C: u32,
  hw4: u32,          // H·W / 4
  groups: u32,
  count4: u32,       // R / 4, vec4s per (group, channel)
  chunk: u32,        // vec4s per run
  chunks: u32,       // runs per (group, channel)
  total: u32,        // groups · C · chunks threads
  x_offset: u32,     // in vec4s
  g_offset: u32,     // in vec4s
  w4: u32,           // PADDED: vec4s per padded row
  H: u32,            // PADDED: rows and columns of the crop
  W: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> g: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> coef: array<f32>;
@group(0) @binding(4) var<storage, read_write> partial: array<f32>;

const BACKWARD = {{BACKWARD}};
const RELU = {{RELU}};
const PADDED = {{PADDED}};

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 64u;
  if (t >= p.total) { return; }
  let pair = t / p.chunks;
  let grp = pair / p.C;
  let c = pair - grp * p.C;
  let j0 = (t - pair * p.chunks) * p.chunk;
  let j1 = min(p.count4, j0 + p.chunk);
  var nl = j0 / p.hw4;
  var q = j0 - nl * p.hw4;
  // Sample n's plane of channel c starts at vec4 (n·C + c)·hw4; consecutive local samples are
  // groups·C·hw4 vec4s apart.
  let step = p.groups * p.C * p.hw4;
  var at = ((nl * p.groups + grp) * p.C + c) * p.hw4 + q;
  var center = 0.0;
  var ya = 0.0;
  var yb = 0.0;
  if (BACKWARD) {
    center = coef[4u * pair + 2u];
    ya = coef[4u * pair];
    yb = coef[4u * pair + 1u];
  } else {
    center = x[p.x_offset + (grp * p.C + c) * p.hw4].x;
  }
  // PADDED: position of vec4 q in its padded plane (one division here, none in the loop).
  var row = 0u;
  var col4 = 0u;
  if (PADDED) {
    row = q / p.w4;
    col4 = q - row * p.w4;
  }
  var s1 = vec4<f32>(0.0);
  var s2 = vec4<f32>(0.0);
  for (var j = j0; j < j1; j++) {
    let xv = x[p.x_offset + at];
    var valid = vec4<bool>(true);
    if (PADDED) {
      valid = (vec4<u32>(4u * col4) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(p.W)) & vec4<bool>(row < p.H);
    }
    let u = select(vec4<f32>(0.0), xv - vec4<f32>(center), valid);
    if (BACKWARD) {
      var gv = select(vec4<f32>(0.0), g[p.g_offset + at], valid);
      if (RELU) { gv = select(vec4<f32>(0.0), gv, xv * ya + yb > vec4<f32>(0.0)); }
      s1 += gv;
      s2 += gv * u;
    } else {
      s1 += u;
      s2 += u * u;
    }
    q++;
    at++;
    if (PADDED) {
      col4++;
      if (col4 == p.w4) {
        col4 = 0u;
        row++;
      }
    }
    if (q == p.hw4) {
      q = 0u;
      row = 0u;
      col4 = 0u;
      at += step - p.hw4;
    }
  }
  partial[2u * t] = (s1.x + s1.y) + (s1.z + s1.w);
  partial[2u * t + 1u] = (s2.x + s2.y) + (s2.z + s2.w);
}
