// augment_mean.wgsl — per-image mean of the grayscale image after the brightness step, which
// ColorJitter's contrast blends towards: mean[b] = mean over pixels of gray(clamp(f_b · img_b, 0, 1)),
// gray = 0.299 r + 0.587 g + 0.114 b for RGB, the value itself for one channel. f_b is the
// image's brightness factor (1 when jitter is off for that image; the mean is then unused).
//
// Layout: img is contiguous [B, C, H, W]; prm the per-image table [B, p.prow] (prm[b, 5] = jitter
// on, prm[b, 6] = brightness factor); out is [B]. One thread per image, looping over rows and
// summing each row separately before adding it to the total (keeps the f32 sum accurate). No
// barriers (expensive on lavapipe); a batch of 256 small images is 256 short loops. For large
// images on a discrete GPU a split reduction would use the device better.

struct Params {
  batch: u32, channels: u32, h: u32, w: u32,
  prow: u32, pad0: u32, pad1: u32, pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> img: array<f32>;
@group(0) @binding(2) var<storage, read> prm: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const GRAY = vec3<f32>(0.299, 0.587, 0.114);

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let b = gid.x;
  if (b >= p.batch) { return; }
  let r = b * p.prow;
  var f = 1.0;
  if (prm[r + 5u] > 0.5) { f = prm[r + 6u]; }
  let n = p.h * p.w;
  let base = b * p.channels * n;
  var total = 0.0;
  for (var y = 0u; y < p.h; y++) {
    var row = 0.0;
    for (var x = 0u; x < p.w; x++) {
      let i = base + y * p.w + x;
      if (p.channels == 3u) {
        let rgb = clamp(f * vec3<f32>(img[i], img[i + n], img[i + 2u * n]), vec3<f32>(0.0), vec3<f32>(1.0));
        row += dot(rgb, GRAY);
      } else {
        row += clamp(f * img[i], 0.0, 1.0);
      }
    }
    total += row;
  }
  out[b] = total / f32(n);
}
