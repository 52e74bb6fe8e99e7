/**
 * Float64 reference of the image augmentations in src/data/augment.ts (the test oracle for the
 * GPU kernels kernels/augment_*.wgsl). Given the same per-image parameters, each stage is written
 * here as plain loops straight from torchvision's tensor functionals (torchvision 0.15,
 * transforms/_functional_tensor.py), not from the GPU code:
 *
 *   resizedCrop   crop(i, j, h, w) then bilinear resize, align_corners=False (upsample_bilinear2d)
 *   hflip         mirror columns
 *   brightness    clamp(f·x, 0, 1)
 *   contrast      clamp(f·x + (1−f)·mean(gray(x)), 0, 1), mean over the whole image
 *   saturation    clamp(f·x + (1−f)·gray(x), 0, 1)                  (RGB only)
 *   hue           rgb → hsv, h = (h + f) mod 1, hsv → rgb             (RGB only)
 *   grayscale     every channel = gray(x)                             (RGB only)
 *   gaussianBlur  2-D correlation with outer(ky, kx), reflect padding (not separable here)
 *   normalize     (x − mean[c]) / std[c]
 *
 * gray(x) = 0.299 r + 0.587 g + 0.114 b (ITU-R 601, as PIL's convert('L') that the original MoCo
 * pipeline used; torchvision's tensor path rounds the red weight to 0.2989).
 *
 * Images here are one image [C, H, W] as { c, h, w, data }; `augmentRef` runs the whole pipeline
 * over a batch [B, C, H, W]. Like the rest of src/reference this file imports nothing from wgrad
 * but a type: the parameter record of src/data/augment.ts.
 */
import type { AugmentImageParams } from '../data/augment.ts';

export const GRAY_WEIGHTS = [0.299, 0.587, 0.114] as const;

/** One image, [c, h, w] row-major. */
export interface RefImage {
  c: number;
  h: number;
  w: number;
  data: Float64Array;
}

/** Settings shared by the batch (not random). */
export interface AugmentRefOptions {
  outH: number;
  outW: number;
  /** Blur kernel sizes (odd). */
  kernelH: number;
  kernelW: number;
  normalize?: { mean: readonly number[]; std: readonly number[] };
}

const img = (c: number, h: number, w: number): RefImage => ({ c, h, w, data: new Float64Array(c * h * w) });
const clamp01 = (v: number) => Math.min(1, Math.max(0, v));

function gray(x: RefImage, p: number): number {
  const n = x.h * x.w;
  return GRAY_WEIGHTS[0] * x.data[p] + GRAY_WEIGHTS[1] * x.data[n + p] + GRAY_WEIGHTS[2] * x.data[2 * n + p];
}

/** PyTorch's area_pixel_compute_source_index for linear modes with align_corners=False. */
function sourceIndex(scale: number, dst: number): number {
  const src = scale * (dst + 0.5) - 0.5;
  return src < 0 ? 0 : src;
}

/** Crops rows i..i+h, columns j..j+w and resizes bilinearly to outH × outW (align_corners=False). */
export function resizedCrop(x: RefImage, crop: readonly number[], outH: number, outW: number): RefImage {
  const [top, left, h, w] = crop;
  if (top < 0 || left < 0 || h < 1 || w < 1 || top + h > x.h || left + w > x.w) {
    throw new Error(`resizedCrop: crop [${crop}] is not inside a ${x.h}×${x.w} image`);
  }
  const out = img(x.c, outH, outW);
  const at = (c: number, y: number, xx: number) => x.data[(c * x.h + top + y) * x.w + left + xx];
  for (let c = 0; c < x.c; c++) {
    for (let oy = 0; oy < outH; oy++) {
      const sy = sourceIndex(h / outH, oy);
      const y0 = Math.floor(sy);
      const y1 = y0 < h - 1 ? y0 + 1 : y0;
      const ly = sy - y0;
      for (let ox = 0; ox < outW; ox++) {
        const sx = sourceIndex(w / outW, ox);
        const x0 = Math.floor(sx);
        const x1 = x0 < w - 1 ? x0 + 1 : x0;
        const lx = sx - x0;
        out.data[(c * outH + oy) * outW + ox] =
          (1 - ly) * ((1 - lx) * at(c, y0, x0) + lx * at(c, y0, x1)) + ly * ((1 - lx) * at(c, y1, x0) + lx * at(c, y1, x1));
      }
    }
  }
  return out;
}

export function hflip(x: RefImage): RefImage {
  const out = img(x.c, x.h, x.w);
  for (let c = 0; c < x.c; c++) {
    for (let y = 0; y < x.h; y++) {
      for (let xx = 0; xx < x.w; xx++) out.data[(c * x.h + y) * x.w + xx] = x.data[(c * x.h + y) * x.w + x.w - 1 - xx];
    }
  }
  return out;
}

export function brightness(x: RefImage, f: number): RefImage {
  return { ...x, data: x.data.map((v) => clamp01(f * v)) };
}

export function contrast(x: RefImage, f: number): RefImage {
  const n = x.h * x.w;
  let sum = 0;
  for (let p = 0; p < n; p++) sum += x.c === 3 ? gray(x, p) : x.data[p];
  const mean = sum / n;
  return { ...x, data: x.data.map((v) => clamp01(f * v + (1 - f) * mean)) };
}

function rgbOnly(op: string, x: RefImage): void {
  if (x.c !== 3) throw new Error(`${op}: needs a 3-channel image, got ${x.c} channels`);
}

export function saturation(x: RefImage, f: number): RefImage {
  rgbOnly('saturation', x);
  const n = x.h * x.w;
  const out = img(3, x.h, x.w);
  for (let p = 0; p < n; p++) {
    const g = gray(x, p);
    for (let c = 0; c < 3; c++) out.data[c * n + p] = clamp01(f * x.data[c * n + p] + (1 - f) * g);
  }
  return out;
}

/** torchvision _rgb2hsv on one pixel. */
export function rgbToHsv(r: number, g: number, b: number): [number, number, number] {
  const maxc = Math.max(r, g, b);
  const minc = Math.min(r, g, b);
  const eqc = maxc === minc;
  const cr = maxc - minc;
  const s = cr / (eqc ? 1 : maxc);
  const div = eqc ? 1 : cr;
  const rc = (maxc - r) / div;
  const gc = (maxc - g) / div;
  const bc = (maxc - b) / div;
  let h = 0;
  if (maxc === r) h = bc - gc;
  else if (maxc === g) h = 2 + rc - bc;
  else h = 4 + gc - rc;
  h = h / 6 + 1;
  h -= Math.floor(h); // torch.fmod of a positive number by 1
  return [h, s, maxc];
}

/** torchvision _hsv2rgb on one pixel. */
export function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const i6 = Math.floor(h * 6);
  const f = h * 6 - i6;
  const p = clamp01(v * (1 - s));
  const q = clamp01(v * (1 - s * f));
  const t = clamp01(v * (1 - s * (1 - f)));
  switch (((i6 % 6) + 6) % 6) {
    case 0:
      return [v, t, p];
    case 1:
      return [q, v, p];
    case 2:
      return [p, v, t];
    case 3:
      return [p, q, v];
    case 4:
      return [t, p, v];
    default:
      return [v, p, q];
  }
}

export function hue(x: RefImage, f: number): RefImage {
  rgbOnly('hue', x);
  const n = x.h * x.w;
  const out = img(3, x.h, x.w);
  for (let p = 0; p < n; p++) {
    const [h, s, v] = rgbToHsv(x.data[p], x.data[n + p], x.data[2 * n + p]);
    let h2 = h + f;
    h2 -= Math.floor(h2); // Python/torch remainder: (h + f) % 1.0
    const rgb = hsvToRgb(h2, s, v);
    for (let c = 0; c < 3; c++) out.data[c * n + p] = rgb[c];
  }
  return out;
}

export function grayscale(x: RefImage): RefImage {
  rgbOnly('grayscale', x);
  const n = x.h * x.w;
  const out = img(3, x.h, x.w);
  for (let p = 0; p < n; p++) {
    const g = gray(x, p);
    for (let c = 0; c < 3; c++) out.data[c * n + p] = g;
  }
  return out;
}

/** torchvision _get_gaussian_kernel1d: exp(−x²/2σ²) on x = −(k−1)/2 … (k−1)/2, normalised. */
export function gaussianKernel1d(k: number, sigma: number): number[] {
  const half = (k - 1) / 2;
  const pdf = Array.from({ length: k }, (_, t) => Math.exp(-0.5 * ((t - half) / sigma) ** 2));
  const total = pdf.reduce((a, b) => a + b, 0);
  return pdf.map((v) => v / total);
}

/** Reflect padding index (torch 'reflect': the edge pixel is not repeated). */
function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

/** 2-D Gaussian blur, kernel kh × kw (odd), reflect padding, as torchvision gaussian_blur. */
export function gaussianBlur(x: RefImage, kh: number, kw: number, sigma: number): RefImage {
  if (kh % 2 !== 1 || kw % 2 !== 1) throw new Error(`gaussianBlur: kernel sizes must be odd, got ${kh}×${kw}`);
  const ky = gaussianKernel1d(kh, sigma);
  const kx = gaussianKernel1d(kw, sigma);
  const out = img(x.c, x.h, x.w);
  const [py, px] = [(kh - 1) / 2, (kw - 1) / 2];
  for (let c = 0; c < x.c; c++) {
    for (let y = 0; y < x.h; y++) {
      for (let xx = 0; xx < x.w; xx++) {
        let acc = 0;
        for (let a = 0; a < kh; a++) {
          const sy = reflect(y + a - py, x.h);
          for (let b = 0; b < kw; b++) acc += ky[a] * kx[b] * x.data[(c * x.h + sy) * x.w + reflect(xx + b - px, x.w)];
        }
        out.data[(c * x.h + y) * x.w + xx] = acc;
      }
    }
  }
  return out;
}

export function normalize(x: RefImage, mean: readonly number[], std: readonly number[]): RefImage {
  const n = x.h * x.w;
  return { ...x, data: x.data.map((v, i) => (v - mean[Math.floor(i / n)]) / std[Math.floor(i / n)]) };
}

/** The whole pipeline on one image: crop/resize → jitter → grayscale → blur → flip → normalize. */
export function augmentImageRef(x: RefImage, p: AugmentImageParams, o: AugmentRefOptions): RefImage {
  let y = resizedCrop(x, p.crop, o.outH, o.outW);
  if (p.jitter) {
    y = brightness(y, p.jitter.brightness);
    y = contrast(y, p.jitter.contrast);
    if (y.c === 3) {
      y = saturation(y, p.jitter.saturation);
      if (p.jitter.hue !== 0) y = hue(y, p.jitter.hue);
    }
  }
  if (p.grayscale && y.c === 3) y = grayscale(y);
  if (p.sigma > 0) y = gaussianBlur(y, o.kernelH, o.kernelW, p.sigma);
  if (p.flip) y = hflip(y);
  if (o.normalize) y = normalize(y, o.normalize.mean, o.normalize.std);
  return y;
}

/** The pipeline over a batch: data is [B, C, H, W] row-major; returns [B, C, outH, outW]. */
export function augmentRef(
  data: ArrayLike<number>,
  shape: readonly number[],
  params: readonly AugmentImageParams[],
  o: AugmentRefOptions,
): { data: Float64Array; shape: number[] } {
  const [b, c, h, w] = shape;
  if (params.length !== b) throw new Error(`augmentRef: ${params.length} parameter sets for a batch of ${b}`);
  const size = c * h * w;
  const outSize = c * o.outH * o.outW;
  const out = new Float64Array(b * outSize);
  for (let n = 0; n < b; n++) {
    const x: RefImage = { c, h, w, data: Float64Array.from({ length: size }, (_, i) => data[n * size + i]) };
    out.set(augmentImageRef(x, params[n], o).data, n * outSize);
  }
  return { data: out, shape: [b, c, o.outH, o.outW] };
}
