/**
 * GPU data augmentation for contrastive learning (MoCo v2 defaults), batched.
 *
 * A batch [B, C, H, W] in [0, 1] (C = 1 or 3) already on the GPU becomes [B, C, outH, outW]:
 *
 *   RandomResizedCrop(scale [0.2, 1], ratio [3/4, 4/3])  torchvision get_params, bilinear resize
 *   RandomHorizontalFlip(0.5)
 *   RandomApply(ColorJitter(0.4, 0.4, 0.4, 0.1), 0.8)    brightness/contrast also for 1 channel
 *   RandomGrayscale(0.2)                                  RGB only
 *   RandomApply(GaussianBlur(sigma [0.1, 2]), 0.5)        kernel ≈ 10% of the output side, odd
 *   Normalize(mean, std)                                  optional
 *
 * Every random number is drawn on the host from a seeded Generator (src/random.ts), so a seed
 * repeats a run exactly, and uploaded as one parameter table [B, P] (PARAM_* columns below, then
 * the blur weights of both axes). The kernels then run once per stage for the whole batch:
 * crop+flip, also summing strips of pixels for the contrast means (kernels/augment_crop.wgsl),
 * the means themselves (augment_mean), jitter + grayscale in place (augment_color), and the blur
 * as a row pass and a column pass (augment_blur); normalisation is folded into whichever of these
 * runs last. At most 5 dispatches per batch;
 * a stage no image of the batch needs (turned off, not drawn, or RGB-only on 1 channel) is not
 * dispatched. Each thread handles PX = 4 neighbouring pixels of a row (see the kernels' headers).
 *
 * Deviations from torchvision, on purpose:
 * - ColorJitter applies its four adjustments in the fixed order brightness → contrast →
 *   saturation → hue (torchvision draws a random order per image).
 * - The flip is fused into the crop (it commutes with every later stage: the contrast mean is
 *   flip-invariant and the blur kernel and reflect padding are symmetric).
 * - gray = 0.299 r + 0.587 g + 0.114 b (ITU-R 601 / PIL); torchvision's tensor path uses 0.2989.
 * - Resizing is plain bilinear (align_corners=False) without antialiasing.
 * The float64 oracle for all of it is src/reference/augment.ts.
 *
 * Random draws per image, in this order (a disabled stage draws nothing): crop (per attempt:
 * area, log-ratio; on success: top, left), flip, jitter on?, then its enabled factors in the order
 * brightness, contrast, saturation, hue (saturation/hue only for RGB), grayscale (RGB only),
 * blur on?, sigma.
 */

import { Tensor } from '../tensor.ts';
import { tensor } from '../creation.ts';
import { defaultGenerator, type Generator } from '../random.ts';
import { UniformLayout } from '../device/uniform-layout.ts';
import { contiguous } from '../ops/shape.ts';
import { fmt } from '../shape.ts';

/** The random parameters of one image, drawn on the host (src/reference/augment.ts replays them). */
export interface AugmentImageParams {
  /** Crop box in input pixels: top row i, left column j, height h, width w (torchvision's order). */
  crop: [number, number, number, number];
  flip: boolean;
  /** ColorJitter factors (applied brightness → contrast → saturation → hue), or null if not applied. */
  jitter: { brightness: number; contrast: number; saturation: number; hue: number } | null;
  grayscale: boolean;
  /** Gaussian blur sigma; 0 = no blur. */
  sigma: number;
}

/** A jitter strength: s means factors in [max(0, 1 − s), 1 + s] (hue: [−s, s]), or an explicit [lo, hi]. */
export type JitterRange = number | [number, number];

/**
 * Which augmentations augment() applies, torchvision-style; every field has MoCo v2's default,
 * so `{}` is the MoCo v2 recipe and `false` turns a stage off.
 */
export interface AugmentConfig {
  /** Output size [height, width] (a number: square). Default: the input size. */
  size?: number | [number, number];
  /** RandomResizedCrop; false = keep the whole image (then only resized to `size`). */
  crop?: false | { scale?: [number, number]; ratio?: [number, number] };
  /** Horizontal flip probability (default 0.5); false = never. */
  flip?: number | false;
  /** ColorJitter applied with probability p (default p 0.8, 0.4 / 0.4 / 0.4 / 0.1); 0 turns one adjustment off. */
  jitter?: false | { p?: number; brightness?: JitterRange; contrast?: JitterRange; saturation?: JitterRange; hue?: JitterRange };
  /** RandomGrayscale probability (default 0.2; RGB only); false = never. */
  grayscale?: number | false;
  /** Gaussian blur with probability p (default 0.5), sigma uniform in `sigma` (default [0.1, 2]). */
  blur?: false | { p?: number; sigma?: [number, number]; kernelSize?: number | [number, number] };
  /** Per-channel (x − mean) / std after everything else; default off. */
  normalize?: false | { mean: readonly number[]; std: readonly number[] };
}

/** A config that changes nothing (every stage off): augment() then returns a copy of its input. @example augment(rand([2, 1, 8, 8]), IDENTITY_AUGMENT) // a copy of the input */
export const IDENTITY_AUGMENT: AugmentConfig = Object.freeze({ crop: false, flip: false, jitter: false, grayscale: false, blur: false });

// Columns of the parameter table; the blur weights follow at PARAM_WEIGHTS (kernel width, then kernel height).
export const PARAM_TOP = 0,
  PARAM_LEFT = 1,
  PARAM_CROP_H = 2,
  PARAM_CROP_W = 3,
  PARAM_FLIP = 4;
export const PARAM_JITTER = 5,
  PARAM_BRIGHTNESS = 6,
  PARAM_CONTRAST = 7,
  PARAM_SATURATION = 8,
  PARAM_HUE = 9;
export const PARAM_GRAY = 10,
  PARAM_BLUR = 11,
  PARAM_WEIGHTS = 12;

/** Output pixels per thread (along a row) in the crop, colour and blur kernels. */
const PX = 4;

interface Range {
  lo: number;
  hi: number;
  on: boolean;
}

/** A config with every default filled in, for images of `channels` channels and size inH × inW. */
export interface ResolvedAugment {
  channels: number;
  inH: number;
  inW: number;
  outH: number;
  outW: number;
  crop: { scale: [number, number]; ratio: [number, number] } | null;
  flip: number;
  jitter: { p: number; brightness: Range; contrast: Range; saturation: Range; hue: Range } | null;
  grayscale: number;
  blur: { p: number; sigma: [number, number]; kernelH: number; kernelW: number } | null;
  normalize: { mean: number[]; std: number[] } | null;
}

function prob(name: string, v: number | false | undefined, dflt: number): number {
  if (v === false) return 0;
  const p = v ?? dflt;
  if (!(p >= 0 && p <= 1)) throw new Error(`augment: ${name} probability must be in [0, 1], got ${p}`);
  return p;
}

function jitterRange(name: string, v: JitterRange | undefined, dflt: number, isHue: boolean): Range {
  const s = v ?? dflt;
  if (Array.isArray(s)) {
    if (!(s[0] <= s[1])) throw new Error(`augment: jitter.${name} range [${s}] must have lo <= hi`);
    if (isHue ? s[0] < -0.5 || s[1] > 0.5 : s[0] < 0)
      throw new Error(`augment: jitter.${name} range [${s}] is out of bounds (${isHue ? '[-0.5, 0.5]' : 'factors >= 0'})`);
    return { lo: s[0], hi: s[1], on: !(s[0] === s[1] && s[0] === (isHue ? 0 : 1)) };
  }
  if (!(s >= 0) || (isHue && s > 0.5)) throw new Error(`augment: jitter.${name} must be ${isHue ? 'in [0, 0.5]' : '>= 0'}, got ${s}`);
  return isHue ? { lo: -s, hi: s, on: s > 0 } : { lo: Math.max(0, 1 - s), hi: 1 + s, on: s > 0 };
}

/** SimCLR/MoCo's rule: 10% of the side, made odd, at least 3, and small enough for reflect padding. */
export function blurKernelSize(side: number): number {
  let k = Math.floor(0.1 * side);
  if (k % 2 === 0) k += 1;
  return Math.min(Math.max(k, 3), 2 * side - 1);
}

/** Fills in defaults and checks the config against the input shape [B, C, H, W]. @example resolveAugment([64, 3, 32, 32], { blur: false }).flip // 0.5 */
export function resolveAugment(shape: readonly number[], cfg: AugmentConfig = {}): ResolvedAugment {
  if (shape.length !== 4) throw new Error(`augment: expected a batch [B, C, H, W], got shape ${fmt(shape)}`);
  const [, channels, inH, inW] = shape;
  if (channels !== 1 && channels !== 3) throw new Error(`augment: images must have 1 or 3 channels, got shape ${fmt(shape)}`);
  if (inH < 1 || inW < 1) throw new Error(`augment: empty images, shape ${fmt(shape)}`);
  const size = cfg.size ?? [inH, inW];
  const [outH, outW] = typeof size === 'number' ? [size, size] : size;
  if (!Number.isInteger(outH) || !Number.isInteger(outW) || outH < 1 || outW < 1)
    throw new Error(`augment: size must be positive integers, got ${JSON.stringify(cfg.size)}`);
  const rgb = channels === 3;

  let crop: ResolvedAugment['crop'] = null;
  if (cfg.crop !== false) {
    const scale = cfg.crop?.scale ?? [0.2, 1];
    const ratio = cfg.crop?.ratio ?? [3 / 4, 4 / 3];
    if (!(scale[0] > 0 && scale[0] <= scale[1])) throw new Error(`augment: crop.scale [${scale}] must satisfy 0 < lo <= hi`);
    if (!(ratio[0] > 0 && ratio[0] <= ratio[1])) throw new Error(`augment: crop.ratio [${ratio}] must satisfy 0 < lo <= hi`);
    crop = { scale: [scale[0], scale[1]], ratio: [ratio[0], ratio[1]] };
  }

  let jitter: ResolvedAugment['jitter'] = null;
  if (cfg.jitter !== false) {
    const j = cfg.jitter ?? {};
    const p = prob('jitter', j.p, 0.8);
    const r = {
      p,
      brightness: jitterRange('brightness', j.brightness, 0.4, false),
      contrast: jitterRange('contrast', j.contrast, 0.4, false),
      saturation: jitterRange('saturation', j.saturation, 0.4, false),
      hue: jitterRange('hue', j.hue, 0.1, true),
    };
    if (!rgb) r.saturation.on = r.hue.on = false;
    if (p > 0 && (r.brightness.on || r.contrast.on || r.saturation.on || r.hue.on)) jitter = r;
  }

  let blur: ResolvedAugment['blur'] = null;
  if (cfg.blur !== false) {
    const b = cfg.blur ?? {};
    const p = prob('blur', b.p, 0.5);
    const sigma = b.sigma ?? [0.1, 2];
    if (!(sigma[0] > 0 && sigma[0] <= sigma[1])) throw new Error(`augment: blur.sigma [${sigma}] must satisfy 0 < lo <= hi`);
    const ks = b.kernelSize;
    const [kernelH, kernelW] = ks === undefined ? [blurKernelSize(outH), blurKernelSize(outW)] : typeof ks === 'number' ? [ks, ks] : ks;
    for (const [k, side] of [
      [kernelH, outH],
      [kernelW, outW],
    ]) {
      if (!Number.isInteger(k) || k % 2 !== 1 || (k - 1) / 2 >= Math.max(side, 2)) {
        throw new Error(`augment: blur kernel size ${k} must be odd with k/2 < the image side ${side} (reflect padding)`);
      }
    }
    if (p > 0) blur = { p, sigma: [sigma[0], sigma[1]], kernelH, kernelW };
  }

  let normalize: ResolvedAugment['normalize'] = null;
  if (cfg.normalize) {
    const { mean, std } = cfg.normalize;
    if (mean.length !== channels || std.length !== channels)
      throw new Error(`augment: normalize needs ${channels} means and stds, got ${mean.length} and ${std.length}`);
    if (std.some((s) => !(s > 0))) throw new Error(`augment: normalize std must be > 0, got [${std}]`);
    normalize = { mean: [...mean], std: [...std] };
  }

  return {
    channels,
    inH,
    inW,
    outH,
    outW,
    crop,
    flip: prob('flip', cfg.flip, 0.5),
    jitter,
    grayscale: rgb ? prob('grayscale', cfg.grayscale, 0.2) : 0,
    blur,
    normalize,
  };
}

/** Python's round(): halves to even. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torchvision RandomResizedCrop.get_params: [top, left, h, w] of a crop of an H × W image. */
export function sampleCrop(
  height: number,
  width: number,
  scale: [number, number],
  ratio: [number, number],
  gen: Generator,
): [number, number, number, number] {
  const area = height * width;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * (scale[0] + (scale[1] - scale[0]) * gen.uniform());
    const aspect = Math.exp(logLo + (logHi - logLo) * gen.uniform());
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = gen.int(height - h + 1);
      const left = gen.int(width - w + 1);
      return [top, left, h, w];
    }
  }
  // Fallback: the central crop with the ratio clamped into range.
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < ratio[0]) h = roundHalfEven(w / ratio[0]);
  else if (inRatio > ratio[1]) w = roundHalfEven(h * ratio[1]);
  return [Math.floor((height - h) / 2), Math.floor((width - w) / 2), h, w];
}

const draw = (r: Range, gen: Generator) => r.lo + (r.hi - r.lo) * gen.uniform();

/**
 * Draws the random parameters of `batch` images (order: see the file header).
 *
 * @example
 * const r = resolveAugment([4, 1, 28, 28], { jitter: false });
 * const params = sampleAugmentParams(4, r, new Generator(1)); // crop box, flip, … per image
 */
export function sampleAugmentParams(batch: number, r: ResolvedAugment, gen: Generator = defaultGenerator): AugmentImageParams[] {
  const out: AugmentImageParams[] = [];
  for (let b = 0; b < batch; b++) {
    const crop = r.crop
      ? sampleCrop(r.inH, r.inW, r.crop.scale, r.crop.ratio, gen)
      : ([0, 0, r.inH, r.inW] as [number, number, number, number]);
    const flip = r.flip > 0 && gen.uniform() < r.flip;
    let jitter: AugmentImageParams['jitter'] = null;
    if (r.jitter && gen.uniform() < r.jitter.p) {
      const j = r.jitter;
      const brightness = j.brightness.on ? draw(j.brightness, gen) : 1;
      const contrast = j.contrast.on ? draw(j.contrast, gen) : 1;
      const saturation = j.saturation.on ? draw(j.saturation, gen) : 1;
      const hue = j.hue.on ? draw(j.hue, gen) : 0;
      jitter = { brightness, contrast, saturation, hue };
    }
    const grayscale = r.grayscale > 0 && gen.uniform() < r.grayscale;
    let sigma = 0;
    if (r.blur && gen.uniform() < r.blur.p) sigma = r.blur.sigma[0] + (r.blur.sigma[1] - r.blur.sigma[0]) * gen.uniform();
    out.push({ crop, flip, jitter, grayscale, sigma });
  }
  return out;
}

function gaussianWeights(k: number, sigma: number): number[] {
  const half = (k - 1) / 2;
  const w = Array.from({ length: k }, (_, t) => Math.exp(-((t - half) ** 2) / (2 * sigma * sigma)));
  const s = w.reduce((a, b) => a + b, 0);
  return w.map((v) => v / s);
}

/** The parameter table [B, P] the kernels read (P = PARAM_WEIGHTS + kernelW + kernelH). */
export function paramTable(params: readonly AugmentImageParams[], r: ResolvedAugment): { data: Float32Array; cols: number } {
  const kw = r.blur?.kernelW ?? 0;
  const kh = r.blur?.kernelH ?? 0;
  const cols = PARAM_WEIGHTS + kw + kh;
  const data = new Float32Array(params.length * cols);
  params.forEach((p, b) => {
    const row = b * cols;
    const [top, left, h, w] = p.crop;
    if (top < 0 || left < 0 || h < 1 || w < 1 || top + h > r.inH || left + w > r.inW) {
      throw new Error(`augment: crop [${p.crop}] of image ${b} is not inside the ${r.inH}×${r.inW} input`);
    }
    data.set([top, left, h, w, p.flip ? 1 : 0], row);
    if (p.jitter) data.set([1, p.jitter.brightness, p.jitter.contrast, p.jitter.saturation, p.jitter.hue], row + PARAM_JITTER);
    data[row + PARAM_GRAY] = p.grayscale && r.channels === 3 ? 1 : 0;
    if (p.sigma > 0 && r.blur) {
      data[row + PARAM_BLUR] = 1;
      data.set(gaussianWeights(kw, p.sigma), row + PARAM_WEIGHTS);
      data.set(gaussianWeights(kh, p.sigma), row + PARAM_WEIGHTS + kw);
    }
  });
  return { data, cols };
}

// Every stage's Params end with mean and std as vec4<f32> (NORM says whether it applies them).
// prettier-ignore
const cropLayout = new UniformLayout(['augment_crop'], {
  batch: 'u32', channels: 'u32', in_h: 'u32', in_w: 'u32', out_h: 'u32', out_w: 'u32', prow: 'u32', x_offset: 'u32',
  mean: 'vec4<f32>', stdev: 'vec4<f32>',
});
const meanLayout = new UniformLayout(['augment_mean'], { batch: 'u32', rows: 'u32', groups: 'u32', pixels: 'u32' });
// prettier-ignore
const colorLayout = new UniformLayout(['augment_color'], {
  batch: 'u32', channels: 'u32', h: 'u32', w: 'u32', prow: 'u32', pad0: 'u32', pad1: 'u32', pad2: 'u32',
  mean: 'vec4<f32>', stdev: 'vec4<f32>',
});
// prettier-ignore
const blurLayout = new UniformLayout(['augment_blur'], {
  batch: 'u32', channels: 'u32', h: 'u32', w: 'u32', prow: 'u32', woff: 'u32', pad0: 'u32', pad1: 'u32',
  mean: 'vec4<f32>', stdev: 'vec4<f32>',
});

/**
 * Applies given per-image parameters (from sampleAugmentParams, or chosen by hand) to a batch
 * [B, C, H, W] on the GPU. Returns a new tensor [B, C, outH, outW]; the input is not changed.
 *
 * @example
 * const x = rand([4, 1, 28, 28]);
 * const r = resolveAugment(x.shape, { jitter: false });
 * const params = sampleAugmentParams(4, r);
 * const [a, b] = [augmentWithParams(x, params, r), augmentWithParams(x, params, r)]; // identical
 */
export function augmentWithParams(batch: Tensor, params: readonly AugmentImageParams[], cfg: AugmentConfig | ResolvedAugment = {}): Tensor {
  batch.assertAlive('augment');
  const r = 'inH' in cfg ? cfg : resolveAugment(batch.shape, cfg);
  const [B, C, H, W] = batch.shape;
  if (r.channels !== C || r.inH !== H || r.inW !== W)
    throw new Error(`augment: config resolved for [*, ${r.channels}, ${r.inH}, ${r.inW}] used on a batch of shape ${fmt(batch.shape)}`);
  if (params.length !== B) throw new Error(`augment: ${params.length} parameter sets for a batch of ${B} images`);
  const { outH, outW } = r;
  const out = Tensor.empty([B, C, outH, outW], batch.device);
  if (B === 0) return out;
  if (B > 65535) throw new Error(`augment: batches of at most 65535 images, got ${B}`);

  const src = batch.isContiguous ? batch : contiguous(batch);
  const table = paramTable(params, r);
  const prm = tensor(table.data, [B, table.cols]);
  const dev = batch.device;
  // Stages run only when some image in the batch needs them (decided from the parameters, so
  // hand-made parameters work with any config).
  const rgb = C === 3;
  const needMean = params.some((p) => p.jitter && p.jitter.contrast !== 1);
  const color = params.some((p) => p.jitter || (rgb && p.grayscale));
  const blur = params.some((p) => p.sigma > 0);
  if (blur && !r.blur)
    throw new Error('augment: parameters ask for a blur but the config turns blur off (so no kernel size); pass a blur config');
  // Unused channels (and all four without normalize) get mean 0, std 1.
  const stats = { mean: r.normalize?.mean ?? [], stdev: [0, 1, 2, 3].map((c) => r.normalize?.std[c] ?? 1) };
  const norm = (last: boolean) => (last && r.normalize ? 'true' : 'false');
  const temps: Tensor[] = [prm];
  // Kernels run one thread per PX pixels of a row: x over column groups, y over rows, z over images (8×8 workgroups).
  const wg: [number, number, number] = [Math.ceil(outW / (8 * PX)), Math.ceil(outH / 8), B];
  try {
    // With contrast to come, the crop kernel also writes per-strip sums for the per-image means.
    const groups = Math.ceil(outW / PX);
    const partial = Tensor.empty(needMean ? [B, outH, groups] : [1], dev);
    temps.push(partial);
    dev.dispatch({
      kernel: 'augment_crop',
      params: { C, NORM: norm(!color && !blur), STATS: needMean ? 'true' : 'false', PX },
      buffers: [src.storage.buffer, prm.storage.buffer, out.storage.buffer, partial.storage.buffer],
      access: 'rrww',
      uniforms: cropLayout.pack({
        batch: B,
        channels: C,
        in_h: H,
        in_w: W,
        out_h: outH,
        out_w: outW,
        prow: table.cols,
        x_offset: src.offset,
        ...stats,
      }),
      workgroups: wg,
      label: 'augment.crop',
    });
    const dims = { batch: B, channels: C, h: outH, w: outW, prow: table.cols };
    if (color) {
      const means = Tensor.empty([B], dev);
      temps.push(means);
      if (needMean) {
        dev.dispatch({
          kernel: 'augment_mean',
          params: { WG: 64 },
          buffers: [partial.storage.buffer, means.storage.buffer],
          access: 'rw',
          uniforms: meanLayout.pack({ batch: B, rows: outH, groups, pixels: outH * outW }),
          workgroups: [Math.ceil(B / 64)],
          label: 'augment.mean',
        });
      }
      dev.dispatch({
        kernel: 'augment_color',
        params: { C, NORM: norm(!blur), PX },
        buffers: [prm.storage.buffer, means.storage.buffer, out.storage.buffer],
        access: 'rrw',
        uniforms: colorLayout.pack({ ...dims, pad0: 0, pad1: 0, pad2: 0, ...stats }),
        workgroups: wg,
        label: 'augment.color',
      });
    }
    if (blur) {
      const tmp = Tensor.empty(out.shape, dev);
      temps.push(tmp);
      const { kernelW, kernelH } = r.blur!;
      const pass = (axis: 0 | 1, from: Tensor, to: Tensor) => {
        const [k, woff] = axis === 0 ? [kernelW, PARAM_WEIGHTS] : [kernelH, PARAM_WEIGHTS + kernelW];
        dev.dispatch({
          kernel: 'augment_blur',
          params: { C, K: k, AXIS: axis, NORM: norm(axis === 1), PX },
          buffers: [from.storage.buffer, prm.storage.buffer, to.storage.buffer],
          access: 'rrw',
          uniforms: blurLayout.pack({ ...dims, woff, pad0: 0, pad1: 0, ...stats }),
          workgroups: wg,
          label: axis === 0 ? 'augment.blur_rows' : 'augment.blur_cols',
        });
      };
      pass(0, out, tmp);
      pass(1, tmp, out);
    }
  } finally {
    for (const t of temps) t.dispose();
    if (src !== batch) src.dispose();
  }
  return out;
}

/**
 * Augments a batch [B, C, H, W] in [0, 1] with fresh random parameters from `gen`.
 *
 * @example
 * const x = rand([8, 3, 32, 32]);
 * const y = augment(x, { size: 24, blur: false }); // [8, 3, 24, 24]: crop, flip, jitter, grayscale
 */
export function augment(batch: Tensor, cfg: AugmentConfig = {}, gen: Generator = defaultGenerator): Tensor {
  const r = resolveAugment(batch.shape, cfg);
  return augmentWithParams(batch, sampleAugmentParams(batch.shape[0], r, gen), r);
}

/**
 * MoCo's two views of the same batch, with independent random parameters: [query view, key view].
 *
 * @example
 * const [xq, xk] = twoViews(rand([16, 1, 28, 28]), { jitter: { p: 0.8 }, blur: false });
 */
export function twoViews(batch: Tensor, cfg: AugmentConfig = {}, gen: Generator = defaultGenerator): [Tensor, Tensor] {
  const r = resolveAugment(batch.shape, cfg);
  const q = augmentWithParams(batch, sampleAugmentParams(batch.shape[0], r, gen), r);
  const k = augmentWithParams(batch, sampleAugmentParams(batch.shape[0], r, gen), r);
  return [q, k];
}
