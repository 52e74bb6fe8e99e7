// GPU augmentation (src/data/augment.ts) against the float64 reference (src/reference/augment.ts)
// stage by stage and as a whole, on odd and non-square sizes with 1 and 3 channels; the reference
// itself against PyTorch (interpolate, conv2d, torchvision's HSV code); plus the random side:
// repeatability, crop statistics, flips, the identity config.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { skip } from '../skip.ts';
import { setup } from '../helpers.ts';
import { Generator, sync, tensor, type Tensor } from '../../src/index.ts';
import {
  type AugmentConfig,
  type AugmentImageParams,
  IDENTITY_AUGMENT,
  augment,
  augmentWithParams,
  resolveAugment,
  sampleAugmentParams,
  sampleCrop,
  twoViews,
} from '../../src/data/augment.ts';
import { augmentRef, gaussianBlur, hue, resizedCrop } from '../../src/reference/augment.ts';
import { findPythonWithTorch, runPython } from '../io/python.ts';

test.before(setup);

/** Images in [0, 1]; half the values quantised to k/255 as real data is (ties between channels exercise the HSV branches). */
function images(shape: number[], seed: number): Float32Array {
  const g = new Generator(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, (_, i) => (i % 2 === 0 ? Math.round(g.uniform() * 255) / 255 : g.uniform()));
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.is(a.length, b.length, 'lengths');
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]));
  return e;
}

/** GPU vs reference for one config on one shape; returns the params used. */
async function compare(
  shape: number[],
  cfg: AugmentConfig,
  seed: number,
  what: string,
  params?: AugmentImageParams[],
): Promise<AugmentImageParams[]> {
  const data = images(shape, seed);
  const x = tensor(data, shape);
  const r = resolveAugment(shape, cfg);
  const ps = params ?? sampleAugmentParams(shape[0], r, new Generator(seed + 100));
  const y = augmentWithParams(x, ps, r);
  assert.equal([...y.shape], [shape[0], shape[1], r.outH, r.outW], `${what}: output shape`);
  const got = await y.toArray();
  const ref = augmentRef(data, shape, ps, {
    outH: r.outH,
    outW: r.outW,
    kernelH: r.blur?.kernelH ?? 1,
    kernelW: r.blur?.kernelW ?? 1,
    normalize: r.normalize ?? undefined,
  });
  const err = maxAbs(got, ref.data);
  assert.ok(err < 1e-5, `${what} ${JSON.stringify(shape)}: max abs error ${err} >= 1e-5`);
  x.dispose();
  y.dispose();
  return ps;
}

const OFF = IDENTITY_AUGMENT;
const SHAPES = [
  [3, 3, 9, 13],
  [4, 1, 7, 6],
  [2, 3, 5, 5],
  [5, 1, 11, 4],
];
const NORM = { 1: { mean: [0.286], std: [0.353] }, 3: { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.243, 0.261] } } as const;

const STAGES: [string, AugmentConfig][] = [
  ['crop', { ...OFF, crop: {} }],
  ['crop to another size', { ...OFF, crop: { scale: [0.1, 1] }, size: [8, 10] }],
  ['resize only (upsampling)', { ...OFF, size: [17, 15] }],
  ['flip', { ...OFF, flip: 1 }],
  ['brightness', { ...OFF, jitter: { p: 1, brightness: 0.9, contrast: 0, saturation: 0, hue: 0 } }],
  ['contrast', { ...OFF, jitter: { p: 1, brightness: 0, contrast: 0.9, saturation: 0, hue: 0 } }],
  ['saturation', { ...OFF, jitter: { p: 1, brightness: 0, contrast: 0, saturation: 0.9, hue: 0 } }],
  ['hue', { ...OFF, jitter: { p: 1, brightness: 0, contrast: 0, saturation: 0, hue: 0.5 } }],
  ['jitter (all four)', { ...OFF, jitter: { p: 1 } }],
  ['grayscale', { ...OFF, grayscale: 1 }],
  ['blur', { ...OFF, blur: { p: 1 } }],
  ['blur, wide kernel', { ...OFF, blur: { p: 1, sigma: [1, 3], kernelSize: 5 } }],
];

for (const [name, cfg] of STAGES) {
  test(`stage ${name}: GPU = float64 reference`, async () => {
    for (const [k, shape] of SHAPES.entries()) await compare(shape, cfg, 10 * k + 1, name);
  });
}

test('normalize alone, and folded into each possible last stage', async () => {
  for (const [k, shape] of SHAPES.entries()) {
    const normalize = NORM[shape[1] as 1 | 3];
    await compare(shape, { ...OFF, normalize }, k, 'normalize (crop stage last)');
    await compare(shape, { ...OFF, jitter: { p: 1 }, normalize }, k, 'normalize (colour stage last)');
    await compare(shape, { ...OFF, blur: { p: 1 }, normalize }, k, 'normalize (blur stage last)');
  }
});

test('whole pipeline (MoCo v2 defaults, plus resize and normalize) = reference', async () => {
  for (const [k, shape] of SHAPES.entries()) {
    const ps = await compare(shape, {}, 50 + k, 'defaults');
    assert.ok((ps.some((p) => p.flip) && ps.some((p) => !p.flip)) || shape[0] < 4, 'both flip outcomes drawn');
    await compare(shape, { size: [6, 9], normalize: NORM[shape[1] as 1 | 3] }, 60 + k, 'defaults + size + normalize');
  }
  // Every random branch taken at once, on a larger batch.
  const ps = await compare([32, 3, 12, 10], { jitter: { p: 1 }, grayscale: 0.5, blur: { p: 0.5 } }, 99, 'big batch');
  assert.ok(ps.some((p) => p.grayscale) && ps.some((p) => !p.grayscale), 'both grayscale outcomes');
  assert.ok(ps.some((p) => p.sigma > 0) && ps.some((p) => p.sigma === 0), 'both blur outcomes');
});

test('hand-picked parameters: central crop, flip, extreme jitter factors', async () => {
  const shape = [3, 3, 7, 9];
  const cfg: AugmentConfig = { jitter: { p: 1 }, blur: { p: 1 }, grayscale: 0.5 };
  const ps: AugmentImageParams[] = [
    {
      crop: [0, 0, 7, 9],
      flip: true,
      jitter: { brightness: 1.4, contrast: 0.6, saturation: 1.4, hue: -0.1 },
      grayscale: false,
      sigma: 0.1,
    },
    { crop: [3, 4, 4, 5], flip: false, jitter: { brightness: 0, contrast: 2, saturation: 0, hue: 0.5 }, grayscale: true, sigma: 2 },
    { crop: [6, 8, 1, 1], flip: true, jitter: null, grayscale: false, sigma: 0 },
  ];
  await compare(shape, cfg, 5, 'hand-picked', ps);
  // The stages that run follow the parameters, whatever the config says about jitter/grayscale.
  await compare(shape, { ...OFF, blur: { p: 1 } }, 5, 'hand-picked, jitter off in the config', ps);
  const x = tensor(images(shape, 5), shape);
  assert.throws(() => augmentWithParams(x, ps, OFF), /blur config/);
});

test('the reference agrees with PyTorch (interpolate, reflect-padded conv2d, torchvision HSV code)', () => {
  const python = findPythonWithTorch();
  if (!python) return skip('no python3 with torch (bash scripts/setup.sh --with-python installs python3-torch)');
  const [c, h, w] = [3, 9, 13];
  const data = Float64Array.from(images([1, c, h, w], 3));
  const x = { c, h, w, data };
  const crop = [2, 3, 6, 9];
  const script = `
import json, sys, torch
import torch.nn.functional as F
torch.set_default_dtype(torch.float64)
a = json.loads(sys.argv[1])
x = torch.tensor(a['data']).reshape(${c}, ${h}, ${w})
i, j, hh, ww = a['crop']
r = F.interpolate(x[None, :, i:i+hh, j:j+ww], size=(7, 5), mode='bilinear', align_corners=False)[0]
def k1(k, s):
    t = torch.linspace(-(k - 1) * 0.5, (k - 1) * 0.5, k)
    p = torch.exp(-0.5 * (t / s) ** 2)
    return p / p.sum()
ky, kx = k1(5, 1.3), k1(3, 1.3)
kern = (ky[:, None] * kx[None, :]).expand(${c}, 1, 5, 3)
b = F.conv2d(F.pad(x[None], [1, 1, 2, 2], mode='reflect'), kern, groups=${c})[0]
# torchvision 0.15 transforms/_functional_tensor.py, _rgb2hsv / _hsv2rgb / adjust_hue, verbatim in substance
def rgb2hsv(img):
    r, g, b = img.unbind(dim=-3)
    maxc = torch.max(img, dim=-3).values
    minc = torch.min(img, dim=-3).values
    eqc = maxc == minc
    cr = maxc - minc
    ones = torch.ones_like(maxc)
    s = cr / torch.where(eqc, ones, maxc)
    cr_divisor = torch.where(eqc, ones, cr)
    rc = (maxc - r) / cr_divisor
    gc = (maxc - g) / cr_divisor
    bc = (maxc - b) / cr_divisor
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = hr + hg + hb
    h = torch.fmod((h / 6.0 + 1.0), 1.0)
    return torch.stack((h, s, maxc), dim=-3)
def hsv2rgb(img):
    h, s, v = img.unbind(dim=-3)
    i = torch.floor(h * 6.0)
    f = (h * 6.0) - i
    i = i.to(dtype=torch.int32)
    p = torch.clamp((v * (1.0 - s)), 0.0, 1.0)
    q = torch.clamp((v * (1.0 - s * f)), 0.0, 1.0)
    t = torch.clamp((v * (1.0 - s * (1.0 - f))), 0.0, 1.0)
    i = i % 6
    mask = i.unsqueeze(dim=-3) == torch.arange(6, device=i.device).view(-1, 1, 1)
    a1 = torch.stack((v, q, p, p, t, v), dim=-3)
    a2 = torch.stack((t, v, v, q, p, p), dim=-3)
    a3 = torch.stack((p, p, t, v, v, q), dim=-3)
    a4 = torch.stack((a1, a2, a3), dim=-4)
    return torch.einsum("...ijk, ...xijk -> ...xjk", mask.to(dtype=img.dtype), a4)
def adjust_hue(img, f):
    h, s, v = rgb2hsv(img).unbind(dim=-3)
    h = (h + f) % 1.0
    return hsv2rgb(torch.stack((h, s, v), dim=-3))
out = {'resize': r.flatten().tolist(), 'blur': b.flatten().tolist(),
       'hue_pos': adjust_hue(x, 0.23).flatten().tolist(), 'hue_neg': adjust_hue(x, -0.41).flatten().tolist()}
print(json.dumps(out))
`;
  const torch = JSON.parse(runPython(python, script, [JSON.stringify({ data: Array.from(data), crop })]));
  const check = (got: ArrayLike<number>, want: number[], what: string) => {
    const e = maxAbs(got, want);
    assert.ok(e < 1e-12, `${what}: reference differs from PyTorch by ${e}`);
  };
  check(resizedCrop(x, crop, 7, 5).data, torch.resize, 'bilinear crop-resize');
  check(gaussianBlur(x, 5, 3, 1.3).data, torch.blur, 'gaussian blur');
  check(hue(x, 0.23).data, torch.hue_pos, 'adjust_hue +0.23');
  check(hue(x, -0.41).data, torch.hue_neg, 'adjust_hue -0.41');
});

test('same seed, same output; another seed, another output', async () => {
  const shape = [6, 3, 10, 8];
  const x = tensor(images(shape, 1), shape);
  const run = (seed: number) => augment(x, { normalize: NORM[3] }, new Generator(seed)).toArray();
  const [a, b, c] = [await run(7), await run(7), await run(8)];
  assert.equal(Array.from(a), Array.from(b));
  assert.ok(maxAbs(a, c) > 0.01, 'different seeds give different views');
});

test('twoViews: independent parameters drawn in sequence from one generator', async () => {
  const shape = [4, 1, 9, 9];
  const x = tensor(images(shape, 2), shape);
  const [q, k] = twoViews(x, {}, new Generator(3));
  const g = new Generator(3);
  const q2 = augment(x, {}, g);
  const k2 = augment(x, {}, g);
  const [aq, ak] = [await q.toArray(), await k.toArray()];
  assert.equal(Array.from(aq), Array.from(await q2.toArray()));
  assert.equal(Array.from(ak), Array.from(await k2.toArray()));
  assert.ok(maxAbs(aq, ak) > 0.01, 'the two views differ');
});

test('identity config returns (a copy of) the input, bit for bit', async () => {
  for (const shape of SHAPES) {
    const data = images(shape, 4);
    const x = tensor(data, shape);
    const y = augment(x, IDENTITY_AUGMENT, new Generator(1));
    assert.ok(y !== x, 'a new tensor');
    assert.equal(Array.from(await y.toArray()), Array.from(data));
  }
});

test('a non-contiguous input batch is read correctly', async () => {
  const data = images([2, 3, 5, 7], 8);
  const x = tensor(data, [2, 3, 5, 7]);
  const xt = x.transpose(0, 1).contiguous().transpose(0, 1); // same values, strides of a [3, 2, 5, 7] tensor
  assert.not.ok(xt.isContiguous);
  const r = resolveAugment(x.shape, { jitter: { p: 1 } });
  const ps = sampleAugmentParams(2, r, new Generator(1));
  assert.equal(Array.from(await augmentWithParams(xt, ps, r).toArray()), Array.from(await augmentWithParams(x, ps, r).toArray()));
});

test('flip mirrors each row exactly, and only the images whose flag is set', async () => {
  const shape = [16, 3, 5, 7];
  const data = images(shape, 6);
  const x = tensor(data, shape);
  const r = resolveAugment(shape, { ...OFF, flip: 0.5 });
  const ps = sampleAugmentParams(16, r, new Generator(11));
  const flips = ps.filter((p) => p.flip).length;
  assert.ok(flips > 0 && flips < 16, `both outcomes among 16 draws (got ${flips} flips)`);
  const y = await augmentWithParams(x, ps, r).toArray();
  const [, c, h, w] = shape;
  for (let b = 0; b < 16; b++) {
    for (let i = 0; i < c * h; i++) {
      for (let col = 0; col < w; col++) {
        const src = (b * c * h + i) * w + (ps[b].flip ? w - 1 - col : col);
        if (y[(b * c * h + i) * w + col] !== data[src]) assert.unreachable(`image ${b} (flip ${ps[b].flip}) row ${i} col ${col}`);
      }
    }
  }
});

/**
 * Exact PCG32 (BigInt) behind the Generator interface, so the crop statistics below test
 * get_params' logic on its own. (src/random.ts's Generator.nextU32 currently mis-computes the PCG
 * output permutation: its uniform() averages about 0.532, which would shift these statistics.)
 */
class ExactPcg extends Generator {
  private s: bigint | undefined; // unset while Generator's constructor runs (it calls nextU32)
  constructor(seed: number) {
    super(seed);
    this.s = (BigInt(seed) * 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
  }
  override nextU32(): number {
    const old = this.s ?? 0n;
    this.s = (old * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
    const xs = Number((((old >> 18n) ^ old) >> 27n) & 0xffffffffn);
    const rot = Number(old >> 59n);
    return ((xs >>> rot) | (xs << ((32 - rot) & 31))) >>> 0;
  }
  override uniform(): number {
    return this.nextU32() / 4294967296;
  }
  override int(n: number): number {
    return Math.floor(this.uniform() * n);
  }
}

test('crop parameters: bounds over many draws, and the distribution get_params implies', () => {
  // Bounds, on small and non-square images (integer rounding makes scale/ratio inexact there).
  for (const [H, W] of [
    [28, 28],
    [20, 45],
    [7, 5],
    [32, 32],
  ]) {
    const g = new ExactPcg(H * 100 + W);
    for (let n = 0; n < 5000; n++) {
      const [top, left, h, w] = sampleCrop(H, W, [0.2, 1], [3 / 4, 4 / 3], g);
      if (!(top >= 0 && left >= 0 && h >= 1 && w >= 1 && top + h <= H && left + w <= W))
        assert.unreachable(`crop [${top},${left},${h},${w}] outside ${H}×${W}`);
      // w = round(sqrt(A r)), h = round(sqrt(A / r)): each within 0.5 of the exact value
      const s = (h * w) / (H * W);
      if (!(s >= 0.2 * ((Math.sqrt(H * W * 0.2) - 1) / Math.sqrt(H * W * 0.2)) ** 2 - 1e-9 && s <= 1))
        assert.unreachable(`scale ${s} on ${H}×${W}`);
    }
  }
  // On a large image rounding is negligible: compare with the exact conditional law. One attempt
  // draws s ~ U[0.2, 1], t = log r ~ U[log 3/4, log 4/3] and succeeds iff s·e^|t| <= 1; the kept
  // crop is the first success, so (s, t) follow the uniform law restricted to that region.
  const [lo, hi] = [Math.log(3 / 4), Math.log(4 / 3)];
  let mass = 0,
    ms = 0,
    mt = 0;
  const N = 400;
  for (let a = 0; a < N; a++) {
    for (let b = 0; b < N; b++) {
      const s = 0.2 + (0.8 * (a + 0.5)) / N;
      const t = lo + ((hi - lo) * (b + 0.5)) / N;
      if (s * Math.exp(Math.abs(t)) <= 1) {
        mass++;
        ms += s;
        mt += Math.abs(t);
      }
    }
  }
  const [expS, expT] = [ms / mass, mt / mass];
  const g = new ExactPcg(2024);
  const S = 1000;
  const n = 20000;
  let sumS = 0,
    sumS2 = 0,
    sumT = 0,
    sumTop = 0,
    sumLeft = 0,
    sumSigned = 0;
  for (let k = 0; k < n; k++) {
    const [top, left, h, w] = sampleCrop(S, S, [0.2, 1], [3 / 4, 4 / 3], g);
    const s = (h * w) / (S * S);
    const t = Math.log(w / h);
    assert.ok(s >= 0.199 && s <= 1 && t >= lo - 0.01 && t <= hi + 0.01, `scale ${s} / log-ratio ${t} out of range`);
    sumS += s;
    sumS2 += s * s;
    sumT += Math.abs(t);
    sumSigned += t;
    if (h < S) sumTop += top / (S - h);
    if (w < S) sumLeft += left / (S - w);
  }
  const meanS = sumS / n;
  const se = Math.sqrt((sumS2 / n - meanS * meanS) / n);
  assert.ok(Math.abs(meanS - expS) < 5 * se + 1e-3, `mean scale ${meanS} vs exact ${expS} (se ${se})`);
  assert.ok(Math.abs(sumT / n - expT) < 0.004, `mean |log ratio| ${sumT / n} vs exact ${expT}`);
  assert.ok(Math.abs(sumSigned / n) < 0.005, `log ratio symmetric around 0, mean ${sumSigned / n}`);
  assert.ok(
    Math.abs(sumTop / n - 0.5) < 0.01 && Math.abs(sumLeft / n - 0.5) < 0.01,
    `crop position uniform: ${sumTop / n}, ${sumLeft / n}`,
  );
});

test('crop fallback: central crop with the ratio clamped, as torchvision', () => {
  // No attempt can fit 4 rows tall: every h = sqrt(A / r) >= sqrt(80 / (4/3)) ≈ 7.7 > 4.
  assert.equal(sampleCrop(4, 100, [0.2, 1], [3 / 4, 4 / 3], new Generator(1)), [0, 47, 4, 5]);
  assert.equal(sampleCrop(100, 4, [0.2, 1], [3 / 4, 4 / 3], new Generator(1)), [47, 0, 5, 4]);
  // Ratio range containing the image's own ratio: the whole image.
  assert.equal(sampleCrop(10, 10, [2, 3], [0.5, 2], new Generator(1)), [0, 0, 10, 10]);
});

test('one-channel data: colour-only stages are skipped and draw nothing', () => {
  const r = resolveAugment([2, 1, 8, 8], { ...OFF, jitter: { p: 1, brightness: 0, contrast: 0 }, grayscale: 1 });
  assert.is(r.jitter, null);
  assert.is(r.grayscale, 0);
  const g = new Generator(5);
  const before = g.getState();
  const ps = sampleAugmentParams(2, r, g);
  assert.equal(g.getState(), before, 'no random numbers used');
  assert.ok(ps.every((p) => p.jitter === null && !p.grayscale));
});

test('config errors name the problem', () => {
  const bad = (shape: number[], cfg: AugmentConfig, part: string) => {
    try {
      resolveAugment(shape, cfg);
    } catch (e) {
      assert.ok((e as Error).message.includes(part), (e as Error).message);
      return;
    }
    assert.unreachable(`expected an error mentioning ${part}`);
  };
  bad([2, 2, 8, 8], {}, '1 or 3 channels');
  bad([2, 8, 8], {}, '[B, C, H, W]');
  bad([2, 3, 8, 8], { flip: 1.5 }, 'flip probability');
  bad([2, 3, 8, 8], { blur: { kernelSize: 4 } }, 'must be odd');
  bad([2, 3, 8, 8], { blur: { kernelSize: 17 } }, 'reflect padding');
  bad([2, 3, 8, 8], { normalize: { mean: [0.5], std: [0.2] } }, 'needs 3 means');
  bad([2, 3, 8, 8], { jitter: { hue: 0.7 } }, 'jitter.hue');
});

test('timing: 256 Fashion-MNIST-sized images (1×28×28), MoCo v2 defaults', async () => {
  const shape = [256, 1, 28, 28];
  const x = tensor(images(shape, 1), shape);
  const g = new Generator(1);
  await augment(x, {}, g).toArray(); // compile the pipelines
  // Best of 5 trials of 10 batches (the CPU is shared), next to x.add(1) on the same batch.
  const best = async (f: () => Tensor) => {
    let ms = Infinity;
    for (let trial = 0; trial < 5; trial++) {
      const t0 = performance.now();
      for (let i = 0; i < 10; i++) f().dispose();
      await sync();
      ms = Math.min(ms, (performance.now() - t0) / 10);
    }
    return ms;
  };
  const aug = await best(() => augment(x, {}, g));
  const add = await best(() => x.add(1));
  console.log(
    `  augment [256, 1, 28, 28]: ${aug.toFixed(2)} ms per batch (parameter sampling, upload and all kernels); x.add(1): ${add.toFixed(2)} ms`,
  );
  assert.ok(aug < 200, `${aug} ms per batch`);
});

test.run();
