// augment_crop.wgsl — RandomResizedCrop + horizontal flip for a batch, one thread per output
// pixel (all channels): out[b, c, oy, ox] = bilinear sample of the crop box of image b (align_corners=False,
// as torch's upsample_bilinear2d: src = (dst + 0.5)·(crop/out) − 0.5, clamped at 0, the far
// neighbour clamped to the crop's last row/column). A flipped image samples column outW−1−ox.
// With the crop box = the whole image and out size = in size the sample is an exact copy, so this
// kernel is also the pipeline's first (copying) stage when cropping is off.
//
// Layout: x is the contiguous input [B, C, H, W] from element offset p.x_offset; prm is the
// per-image parameter table [B, p.prow] (src/data/augment.ts): prm[b, 0..3] = crop top, left,
// height, width (integers stored as f32), prm[b, 4] = flip (0/1). out is [B, C, outH, outW].
// If p.normalize is 1 (this is the last stage) the value becomes (v − mean[c]) / std[c].
// Dispatch: x over output columns, y over output rows, z over images, so a thread finds its
// coordinates without integer division (which lavapipe scalarises: it cost ~10× the sampling
// itself). No barriers, no shared memory: suits lavapipe and discrete GPUs alike.

struct Params {
  batch: u32, channels: u32, in_h: u32, in_w: u32,
  out_h: u32, out_w: u32, prow: u32, x_offset: u32,
  normalize: u32, pad0: u32, pad1: u32, pad2: u32,
  mean: vec4<f32>,
  stdev: vec4<f32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> prm: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(16, 4, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let ox = gid.x;
  let oy = gid.y;
  let b = gid.z;
  if (ox >= p.out_w || oy >= p.out_h || b >= p.batch) { return; }
  let r = b * p.prow;
  let top = u32(prm[r]);
  let left = u32(prm[r + 1u]);
  let ch = u32(prm[r + 2u]);
  let cw = u32(prm[r + 3u]);
  var sx_dst = ox;
  if (prm[r + 4u] > 0.5) { sx_dst = p.out_w - 1u - ox; }

  let sy = max((f32(oy) + 0.5) * (f32(ch) / f32(p.out_h)) - 0.5, 0.0);
  let sx = max((f32(sx_dst) + 0.5) * (f32(cw) / f32(p.out_w)) - 0.5, 0.0);
  let y0 = min(u32(sy), ch - 1u);
  let x0 = min(u32(sx), cw - 1u);
  let y1 = min(y0 + 1u, ch - 1u);
  let x1 = min(x0 + 1u, cw - 1u);
  let ly = sy - f32(y0);
  let lx = sx - f32(x0);

  let in_plane = p.in_h * p.in_w;
  let out_plane = p.out_h * p.out_w;
  var src0 = p.x_offset + b * p.channels * in_plane + (top + y0) * p.in_w + left;
  var src1 = p.x_offset + b * p.channels * in_plane + (top + y1) * p.in_w + left;
  var dst = b * p.channels * out_plane + oy * p.out_w + ox;
  for (var c = 0u; c < p.channels; c++) {
    var v = (1.0 - ly) * ((1.0 - lx) * x[src0 + x0] + lx * x[src0 + x1])
          + ly * ((1.0 - lx) * x[src1 + x0] + lx * x[src1 + x1]);
    if (p.normalize == 1u) { v = (v - p.mean[c]) / p.stdev[c]; }
    out[dst] = v;
    src0 += in_plane;
    src1 += in_plane;
    dst += out_plane;
  }
}
