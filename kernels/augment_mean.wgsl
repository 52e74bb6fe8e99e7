// augment_mean.wgsl — per-image mean of the grayscale image after the brightness step, which
// ColorJitter's contrast blends towards: mean[b] = Σ partial[b, :, :] / (outH · outW), where
// partial [B, outH, G] holds the sums over strips of PX pixels written by augment_crop.wgsl
// (with STATS), already gray(clamp(f_b · pixel, 0, 1)).
//
// One thread per image, adding row by row (each row summed on its own first, which keeps the f32
// sum accurate). No barriers (expensive on lavapipe); for 28×28 images that is 28·7 loads per
// thread. For large images on a discrete GPU a split reduction would use the device better.
// Template parameters: WG (workgroup size).

struct Params {
  batch: u32, rows: u32, groups: u32, pixels: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let b = gid.x;
  if (b >= p.batch) { return; }
  var at = b * p.rows * p.groups;
  var total = 0.0;
  for (var y = 0u; y < p.rows; y++) {
    var row = 0.0;
    for (var g = 0u; g < p.groups; g++) { row += partial[at + g]; }
    total += row;
    at += p.groups;
  }
  out[b] = total / f32(p.pixels);
}
