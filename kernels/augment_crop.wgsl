// augment_crop.wgsl — RandomResizedCrop + horizontal flip for a batch: out[b, c, oy, ox] =
// bilinear sample of the crop box of image b (align_corners=False, as torch's
// upsample_bilinear2d: src = (dst + 0.5)·(crop/out) − 0.5, clamped at 0, the far neighbour
// clamped to the crop's last row/column). A flipped image samples column outW−1−ox. With the crop
// box = the whole image and out size = in size the sample is an exact copy, so this kernel is
// also the pipeline's first (copying) stage when cropping is off.
//
// Layout: x is the contiguous input [B, C, H, W] from element offset p.x_offset; prm is the
// per-image parameter table [B, p.prow] (src/data/augment.ts): prm[b, 0..3] = crop top, left,
// height, width (integers stored as f32), prm[b, 4] = flip (0/1). out is [B, C, outH, outW].
// If NORM is true (this is the last stage) the value becomes (v − mean[c]) / std[c].
// If STATS is true (ColorJitter's contrast follows) a thread also writes the sum over its pixels
// of gray(clamp(fb·v, 0, 1)) to partial[b, oy, gx] ([B, outH, ceil(outW/PX)]), fb = the image's
// brightness factor (prm[b, 6] when prm[b, 5] = 1, else 1), gray = 0.299 r + 0.587 g + 0.114 b
// or the value itself; augment_mean.wgsl adds them up into the per-image mean.
//
// Work split: a thread writes PX neighbouring pixels of one output row, all channels; dispatch x
// over groups of PX columns, y over rows, z over images. So a thread finds its coordinates without
// integer division (which lavapipe scalarises), and loads the image's parameters and row weights
// once for PX pixels: on lavapipe this ran 2× faster than one thread per pixel (every storage
// access is a gather there). No barriers, no shared memory; fine on discrete GPUs too.
// Template parameters: C (channels, 1 or 3), NORM, STATS (true/false), PX (pixels per thread).

struct Params {
  batch: u32, channels: u32, in_h: u32, in_w: u32,
  out_h: u32, out_w: u32, prow: u32, x_offset: u32,
  mean: vec4<f32>,
  stdev: vec4<f32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> prm: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> partial: array<f32>;

const C: u32 = {{C}}u;
const NORM: bool = {{NORM}};
const PX: u32 = {{PX}}u;
const STATS: bool = {{STATS}};
const GRAY = vec3<f32>(0.299, 0.587, 0.114);

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let ox0 = gid.x * PX;
  let oy = gid.y;
  let b = gid.z;
  if (ox0 >= p.out_w || oy >= p.out_h || b >= p.batch) { return; }
  let r = b * p.prow;
  let top = u32(prm[r]);
  let left = u32(prm[r + 1u]);
  let ch = u32(prm[r + 2u]);
  let cw = u32(prm[r + 3u]);
  let flip = prm[r + 4u] > 0.5;

  let sy = max((f32(oy) + 0.5) * (f32(ch) / f32(p.out_h)) - 0.5, 0.0);
  let y0 = min(u32(sy), ch - 1u);
  let y1 = min(y0 + 1u, ch - 1u);
  let ly = sy - f32(y0);
  let scale_x = f32(cw) / f32(p.out_w);
  let in_plane = p.in_h * p.in_w;
  let out_plane = p.out_h * p.out_w;
  let row0 = p.x_offset + b * C * in_plane + (top + y0) * p.in_w + left;
  let row1 = p.x_offset + b * C * in_plane + (top + y1) * p.in_w + left;
  let dst = b * C * out_plane + oy * p.out_w;
  var fb = 1.0;
  if (prm[r + 5u] > 0.5) { fb = prm[r + 6u]; }
  var sum = 0.0;
  for (var k = 0u; k < PX; k++) {
    let ox = ox0 + k;
    if (ox < p.out_w) {
      var sx_dst = ox;
      if (flip) { sx_dst = p.out_w - 1u - ox; }
      let sx = max((f32(sx_dst) + 0.5) * scale_x - 0.5, 0.0);
      let x0 = min(u32(sx), cw - 1u);
      let x1 = min(x0 + 1u, cw - 1u);
      let lx = sx - f32(x0);
      var px = vec3<f32>(0.0);
      for (var c = 0u; c < C; c++) {
        let a = row0 + c * in_plane;
        let e = row1 + c * in_plane;
        var v = (1.0 - ly) * ((1.0 - lx) * x[a + x0] + lx * x[a + x1])
              + ly * ((1.0 - lx) * x[e + x0] + lx * x[e + x1]);
        px[c] = v;
        if (NORM) { v = (v - p.mean[c]) / p.stdev[c]; }
        out[dst + c * out_plane + ox] = v;
      }
      if (STATS) {
        if (C == 3u) {
          sum += dot(clamp(fb * px, vec3<f32>(0.0), vec3<f32>(1.0)), GRAY);
        } else {
          sum += clamp(fb * px.x, 0.0, 1.0);
        }
      }
    }
  }
  if (STATS) { partial[(b * p.out_h + oy) * ((p.out_w + PX - 1u) / PX) + gid.x] = sum; }
}
