// augment_color.wgsl — ColorJitter and RandomGrayscale for a batch, in place, one thread per
// pixel (all channels of it, since saturation, hue and grayscale mix channels).
// Per image, when jitter is on, in this fixed order (torchvision draws a random order; wgrad
// fixes it, see src/data/augment.ts):
//   brightness  v = clamp(fb·v, 0, 1)
//   contrast    v = clamp(fc·v + (1 − fc)·mean[b], 0, 1)   (mean from augment_mean.wgsl)
//   saturation  v = clamp(fs·v + (1 − fs)·gray, 0, 1)      (RGB only)
//   hue         rgb → hsv, h = (h + fh) mod 1, hsv → rgb   (RGB only; skipped when fh = 0)
// then, when the grayscale flag is set (RGB only), every channel = gray; gray = 0.299 r + 0.587 g
// + 0.114 b. The HSV conversions follow torchvision's _rgb2hsv/_hsv2rgb term by term.
// If NORM is true (this is the last stage) each channel becomes (v − mean[c]) / std[c].
// Template parameters: C (channels, 1 or 3), NORM (true/false), PX (pixels per thread).
//
// Layout: img is contiguous [B, C, H, W], read and written in place; prm the per-image table
// [B, p.prow]: prm[b, 5] jitter on, 6 brightness, 7 contrast, 8 saturation, 9 hue, 10 grayscale;
// mean is [B]. Work split: a thread adjusts PX neighbouring pixels of one row (dispatch x over
// groups of PX columns, y over rows, z over images: no integer division, and the image's factors
// are loaded once for PX pixels; storage accesses are gathers on lavapipe). No barriers.

struct Params {
  batch: u32, channels: u32, h: u32, w: u32,
  prow: u32, pad0: u32, pad1: u32, pad2: u32,
  mean: vec4<f32>,
  stdev: vec4<f32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> prm: array<f32>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> img: array<f32>;

const C: u32 = {{C}}u;
const NORM: bool = {{NORM}};
const PX: u32 = {{PX}}u;

const GRAY = vec3<f32>(0.299, 0.587, 0.114);

fn rgb_to_hsv(c: vec3<f32>) -> vec3<f32> {
  let maxc = max(c.r, max(c.g, c.b));
  let minc = min(c.r, min(c.g, c.b));
  let eqc = maxc == minc;
  let cr = maxc - minc;
  let s = cr / select(maxc, 1.0, eqc);
  let d = select(cr, 1.0, eqc);
  let rc = (maxc - c.r) / d;
  let gc = (maxc - c.g) / d;
  let bc = (maxc - c.b) / d;
  var h: f32;
  if (maxc == c.r) { h = bc - gc; } else if (maxc == c.g) { h = 2.0 + rc - bc; } else { h = 4.0 + gc - rc; }
  h = h / 6.0 + 1.0;
  return vec3<f32>(h - floor(h), s, maxc);
}

fn hsv_to_rgb(hsv: vec3<f32>) -> vec3<f32> {
  let h6 = hsv.x * 6.0;
  let i6 = floor(h6);
  let f = h6 - i6;
  let s = hsv.y;
  let v = hsv.z;
  let pp = clamp(v * (1.0 - s), 0.0, 1.0);
  let q = clamp(v * (1.0 - s * f), 0.0, 1.0);
  let t = clamp(v * (1.0 - s * (1.0 - f)), 0.0, 1.0);
  switch (u32(i6) % 6u) {
    case 0u: { return vec3<f32>(v, t, pp); }
    case 1u: { return vec3<f32>(q, v, pp); }
    case 2u: { return vec3<f32>(pp, v, t); }
    case 3u: { return vec3<f32>(pp, q, v); }
    case 4u: { return vec3<f32>(t, pp, v); }
    default: { return vec3<f32>(v, pp, q); }
  }
}

fn adjust(rgb: vec3<f32>, r: u32, m: f32) -> vec3<f32> {
  var c = clamp(prm[r + 6u] * rgb, vec3<f32>(0.0), vec3<f32>(1.0));
  let fc = prm[r + 7u];
  c = clamp(fc * c + (1.0 - fc) * m, vec3<f32>(0.0), vec3<f32>(1.0));
  let fs = prm[r + 8u];
  c = clamp(fs * c + (1.0 - fs) * dot(c, GRAY), vec3<f32>(0.0), vec3<f32>(1.0));
  let fh = prm[r + 9u];
  if (fh != 0.0) {
    var hsv = rgb_to_hsv(c);
    let h = hsv.x + fh;
    hsv.x = h - floor(h);
    c = hsv_to_rgb(hsv);
  }
  return c;
}

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let x0 = gid.x * PX;
  let b = gid.z;
  if (x0 >= p.w || gid.y >= p.h || b >= p.batch) { return; }
  let n = p.h * p.w;
  let row = b * C * n + gid.y * p.w;
  let r = b * p.prow;
  let jitter = prm[r + 5u] > 0.5;
  let gray = prm[r + 10u] > 0.5;
  let fb = prm[r + 6u];
  let fc = prm[r + 7u];
  let m = mean[b];
  for (var k = 0u; k < PX; k++) {
    if (x0 + k < p.w) {
      let i = row + x0 + k;
      if (C == 1u) {
        var v = img[i];
        if (jitter) {
          v = clamp(fb * v, 0.0, 1.0);
          v = clamp(fc * v + (1.0 - fc) * m, 0.0, 1.0);
        }
        if (NORM) { v = (v - p.mean[0]) / p.stdev[0]; }
        img[i] = v;
      } else {
        var c = vec3<f32>(img[i], img[i + n], img[i + 2u * n]);
        if (jitter) { c = adjust(c, r, m); }
        if (gray) { c = vec3<f32>(dot(c, GRAY)); }
        if (NORM) { c = (c - p.mean.xyz) / p.stdev.xyz; }
        img[i] = c.r;
        img[i + n] = c.g;
        img[i + 2u * n] = c.b;
      }
    }
  }
}
