// conv2d forward against the float64 reference (src/reference/conv.ts, itself checked against
// PyTorch) and all three gradients against float64 finite differences, over the cases where an
// implicit-GEMM convolution goes wrong: stride, padding, dilation, groups / depthwise, 1×1 and
// non-square kernels, sizes that are not multiples of the 4-pixel tiles, batch 1, strided inputs
// and strided output gradients. Each case runs with the lavapipe tiling (the default here, weights
// shared across each subgroup), the smaller discrete-GPU tiling with shared weights, and that
// tiling as discrete GPUs run it (every lane loads its weights), forced through convTuning.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { skip } from '../skip.ts';
import { setup, checkForward, checkGrad, randnSeeded, nonContiguous, assertClose, checkFusedModel, withDispatches } from '../helpers.ts';
import { deviceInfo, tensor, zeros, cat, noGrad, nn, manualSeed, sync, type Tensor } from '../../src/index.ts';
import { conv2d, type Conv2dOptions } from '../../src/ops/conv.ts';
import { convTuning } from '../../src/ops/tuning.ts';
import { device as currentDevice } from '../../src/runtime.ts';
import { fillTemplate } from '../../src/device/kernel-sources.ts';
import { PackedUniforms, uniformStruct } from '../../src/device/uniform-layout.ts';
import type { DispatchSpec } from '../../src/device/device.ts';

test.before(setup);
test.after.each(() => {
  Object.assign(convTuning, { ct: 0, th: 0, wgradCt: 0, wgradCi: 0, wgradThreads: 0, shareLoads: undefined });
});

const TILINGS = {
  lavapipe: { ct: 0, th: 0, wgradCt: 0, wgradCi: 0, shareLoads: true },
  'discrete, shared weights': { ct: 4, th: 2, wgradCt: 4, wgradCi: 2, shareLoads: true },
  discrete: { ct: 4, th: 2, wgradCt: 4, wgradCi: 2, shareLoads: false },
};
// Shared loads need the adapter's subgroups (Dawn's OpenGLES backend, WGRAD_BACKEND=opengles,
// has none): those variants are skipped there.
const unsupported = (shareLoads: boolean): boolean => {
  const missing = shareLoads && !deviceInfo().features.includes('subgroups');
  if (missing) skip(`the adapter (${deviceInfo().backend}) has no 'subgroups' feature, which shared loads need`);
  return missing;
};

interface Case {
  name: string;
  x: number[] | (() => Tensor);
  w: number[];
  bias?: boolean;
  o: Conv2dOptions;
}

// Total input elements stay at a few hundred per case: gradcheck replays the graph twice per element.
const cases: Case[] = [
  { name: 'stride 2, padding 1, groups 2, bias', x: [2, 4, 7, 6], w: [4, 2, 3, 3], bias: true, o: { stride: 2, padding: 1, groups: 2 } },
  { name: 'dilation 2, padding [2, 1]', x: [1, 3, 9, 8], w: [2, 3, 3, 3], o: { dilation: 2, padding: [2, 1] } },
  { name: 'depthwise 3×3 (groups = Cin), bias', x: [2, 3, 6, 5], w: [3, 1, 3, 3], bias: true, o: { groups: 3, padding: 1 } },
  { name: '1×1 kernel, bias', x: [2, 5, 3, 5], w: [6, 5, 1, 1], bias: true, o: {} },
  {
    name: 'non-square kernel [2, 3] on a 7×5 input, stride [2, 1]',
    x: [2, 2, 7, 5],
    w: [3, 2, 2, 3],
    o: { stride: [2, 1], padding: [1, 0] },
  },
  { name: 'batch 1, 5×5 kernel, stride 3, no padding', x: [1, 2, 11, 10], w: [2, 2, 5, 5], o: { stride: 3 } },
  { name: 'non-contiguous input (transposed view)', x: () => nonContiguous([2, 3, 5, 6]), w: [4, 3, 3, 3], bias: true, o: { padding: 1 } },
  {
    name: 'dilation [1, 2] and stride [1, 2] with groups 2 and 4 outputs per group',
    x: [1, 4, 6, 9],
    w: [8, 2, 2, 2],
    o: { dilation: [1, 2], stride: [1, 2], groups: 2 },
  },
];

const inputsOf = (c: Case, seed: number): Tensor[] => {
  const xs = [typeof c.x === 'function' ? c.x() : randnSeeded(c.x, seed), randnSeeded(c.w, seed + 1)];
  if (c.bias) xs.push(randnSeeded([c.w[0]], seed + 2));
  return xs;
};

for (const [tiling, tune] of Object.entries(TILINGS)) {
  cases.forEach((c, i) => {
    test(`conv2d ${c.name} (${tiling} tiling): forward and the gradients of input, weight, bias`, async () => {
      if (unsupported(tune.shareLoads)) return;
      Object.assign(convTuning, tune);
      const fn = (x: Tensor, w: Tensor, b?: Tensor) => conv2d(x, w, b, c.o);
      const inputs = inputsOf(c, 10 * i);
      await checkForward(fn, inputs, 1e-5, c.name);
      await checkGrad(fn, inputs, {}, c.name);
    });
  });
}

test('conv2d of a strided conv2d output, with a transposed output gradient', async () => {
  // The first output is a view of a tile-padded buffer (6 columns → 8); the second conv reads it
  // through strides, and its output gradient arrives as a transposed (non-contiguous) view.
  const fn = (x: Tensor, w1: Tensor, w2: Tensor) =>
    conv2d(conv2d(x, w1, null, { padding: 1 }).relu(), w2, null, { padding: [0, 1] }).transpose(2, 3);
  const inputs = [randnSeeded([1, 2, 5, 6], 71), randnSeeded([3, 2, 3, 3], 72), randnSeeded([2, 3, 2, 2], 73)];
  await checkForward(fn, inputs);
  await checkGrad(fn, inputs);
});

/** conv2d's input and weight gradients for output gradient GY, in float64 (stride s, padding pad on both dims). */
function float64Grads(
  X: ArrayLike<number>,
  Wt: ArrayLike<number>,
  GY: ArrayLike<number>,
  xShape: readonly number[],
  wShape: readonly number[],
  s: number,
  pad: number,
  G: number,
): [Float64Array, Float64Array] {
  const [N, C, H, W] = xShape;
  const [OC, RC, KH, KW] = wShape;
  const OH = Math.floor((H + 2 * pad - KH) / s) + 1;
  const OW = Math.floor((W + 2 * pad - KW) / s) + 1;
  const gx = new Float64Array(N * C * H * W);
  const gw = new Float64Array(OC * RC * KH * KW);
  const ocg = OC / G;
  for (let n = 0; n < N; n++)
    for (let oc = 0; oc < OC; oc++)
      for (let oy = 0; oy < OH; oy++)
        for (let ox = 0; ox < OW; ox++) {
          const g = GY[((n * OC + oc) * OH + oy) * OW + ox];
          for (let rc = 0; rc < RC; rc++)
            for (let i = 0; i < KH; i++)
              for (let j = 0; j < KW; j++) {
                const [iy, ix] = [oy * s + i - pad, ox * s + j - pad];
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                const xi = ((n * C + Math.floor(oc / ocg) * RC + rc) * H + iy) * W + ix;
                const wi = ((oc * RC + rc) * KH + i) * KW + j;
                gx[xi] += g * Wt[wi];
                gw[wi] += g * X[xi];
              }
        }
  return [gx, gw];
}

// 32 input channels per group make the input-channel blocks of the weight gradient a multiple of
// 8, the case where lavapipe shares gy across a subgroup; each runs with and without sharing.
const WIDE = [
  { name: 'the MoCo ConvNet layer shape (32 → 32 channels, 3×3, padding 1)', x: [2, 32, 10, 12], w: [32, 32, 3, 3], o: { padding: 1 } },
  {
    name: 'stride 2, groups 2 (16 input channels per group), padding 1',
    x: [2, 32, 9, 12],
    w: [16, 16, 3, 3],
    o: { stride: 2, padding: 1, groups: 2 },
  },
] as const;
for (const c of WIDE)
  for (const shareLoads of [true, false])
    for (const smaller of [false, true]) {
      test(`conv2d at ${c.name}, ${shareLoads ? '' : 'un'}shared loads, ${smaller ? 'smaller tiles' : 'default tiles'}: forward and both gradients match the float64 formulas`, async () => {
        // 32 channels use the widest tiles: on lavapipe 16 output channels per thread, 8 output × 1
        // input channels in the weight gradient; the smaller tiles are 8 and 8 × 2, with the weight
        // gradient's reduction split into as many chunks as it allows. Gradients at full
        // size are too slow to finite-difference: check them against the float64 formulas directly:
        // gx = conv_transpose(gy, w), gw = Σ gy · x shifted.
        if (unsupported(shareLoads)) return;
        convTuning.shareLoads = shareLoads;
        if (smaller) Object.assign(convTuning, { ct: 8, wgradCt: 8, wgradCi: 2, wgradThreads: 1 << 20 });
        const o: Conv2dOptions = c.o;
        const [N, , H, W] = c.x;
        const [OC, , KH, KW] = c.w;
        const [s, pad, G] = [(o.stride as number) ?? 1, o.padding as number, o.groups ?? 1];
        const OH = Math.floor((H + 2 * pad - KH) / s) + 1;
        const OW = Math.floor((W + 2 * pad - KW) / s) + 1;
        const [x, w, gy] = [randnSeeded([...c.x], 81), randnSeeded([...c.w], 82), randnSeeded([N, OC, OH, OW], 83)];
        await checkForward((a, b) => conv2d(a, b, null, o), [x, w]);
        const xs = x.detach().requiresGrad_();
        const ws = w.detach().requiresGrad_();
        conv2d(xs, ws, null, o).backward(gy);
        const [gx, gw] = float64Grads(await x.toArray(), await w.toArray(), await gy.toArray(), c.x, c.w, s, pad, G);
        assertClose(await xs.grad!.toArray(), gx, 1e-5, 'input gradient');
        assertClose(await ws.grad!.toArray(), gw, 1e-5, 'weight gradient');
      });
    }

test("conv2d weight gradient from an output gradient that is a view at an offset (cat's backward), and of an empty batch", async () => {
  // The output gradient reaches conv2d as a contiguous view into cat's gradient, at element
  // 2·4·5·8 of its buffer; the weight gradient read it from element 0 before.
  const [x, w, other] = [randnSeeded([2, 2, 5, 8], 121), randnSeeded([4, 2, 3, 3], 122), randnSeeded([2, 4, 5, 8], 123)];
  const g = randnSeeded([4, 4, 5, 8], 124);
  const [xs, ws] = [x.detach().requiresGrad_(), w.detach().requiresGrad_()];
  cat([other, conv2d(xs, ws, null, { padding: 1 })], 0).backward(g);
  const gy = (await g.toArray()).slice(2 * 4 * 5 * 8);
  const [gx, gw] = float64Grads(await x.toArray(), await w.toArray(), gy, [2, 2, 5, 8], [4, 2, 3, 3], 1, 1, 1);
  assertClose(await ws.grad!.toArray(), gw, 1e-5, 'weight gradient');
  assertClose(await xs.grad!.toArray(), gx, 1e-5, 'input gradient');

  const [xe, we] = [zeros([0, 2, 5, 8]).requiresGrad_(), randnSeeded([4, 2, 3, 3], 125).requiresGrad_()];
  conv2d(xe, we, null, { padding: 1 }).sum().backward();
  assert.equal(xe.grad!.shape, [0, 2, 5, 8]);
  assert.equal(Array.from(await we.grad!.toArray()), new Array(4 * 2 * 9).fill(0), 'no pixels: a zero weight gradient');
});

// conv2d(…, { activation: 'relu' }): the ReLU in the kernel's store, the backward's mask from the
// saved output. The float64 reference applies max(·, 0) to its own convolution.
for (const tiling of ['lavapipe', 'discrete'] as const) {
  for (const i of [0, 2, 6]) {
    const c = cases[i];
    test(`conv2d + ReLU fused, ${c.name} (${tiling} tiling): forward and gradients vs float64`, async () => {
      if (unsupported(TILINGS[tiling].shareLoads)) return;
      Object.assign(convTuning, TILINGS[tiling]);
      const fn = (x: Tensor, w: Tensor, b?: Tensor) => conv2d(x, w, b, { ...c.o, activation: 'relu' });
      const inputs = inputsOf(c, 10 * i);
      await checkForward(fn, inputs, 1e-5, c.name);
      await checkGrad(fn, inputs, {}, c.name);
    });
  }
}

// The generated kernels (src/ops/codegen/): the WGSL each real dispatch compiled, variant by
// variant, has every hole filled and the struct of the layout it packs. Values of these variants
// are checked against float64 by the tests above; here only the forward, as a sanity check.
test('conv2d_tile and conv2d_wgrad: every generated variant compiles with no {{hole}} left and the struct of its layout', async () => {
  const dev = currentDevice();
  const seen = new Map<string, string>();
  const record = dev.dispatch;
  dev.dispatch = (spec: DispatchSpec) => {
    if (spec.kernel === 'conv2d_tile' || spec.kernel === 'conv2d_wgrad') {
      const code = fillTemplate(spec.kernel, spec.params ?? {});
      const wt = /var<storage, read> wt: array<([^>]+>?)>;/.exec(code)?.[1];
      const share = code.includes('enable subgroups;') ? 'shared' : 'unshared';
      seen.set([spec.label, share, code.includes('max(a0_0') ? 'relu' : '', wt ?? ''].filter((v) => v).join(' '), code);
      assert.not.match(code, /\{\{\w*\}\}/, `${spec.label}: a hole is left`);
      assert.ok(spec.uniforms instanceof PackedUniforms, `${spec.label} packs a named layout`);
      assert.is(spec.uniforms.layout.mismatch(code), null, `${spec.label}: struct vs layout`);
      assert.equal(
        uniformStruct(code)!.map((f) => f.name),
        spec.uniforms.layout.fields.map((f) => f.name),
      );
    }
    record.call(dev, spec);
  };
  const shares = deviceInfo().features.includes('subgroups') ? [true, false] : [false];
  try {
    // 8 input channels with 1 per thread: the weight gradient's channel blocks are a multiple of
    // 8, where it shares gy; 6 output channels give 2 per thread (f32 weights), 4 give vec4s.
    for (const shareLoads of shares)
      for (const [cout, relu] of [
        [4, true],
        [6, false],
      ] as const) {
        Object.assign(convTuning, { shareLoads, wgradCi: 1 });
        const o: Conv2dOptions = { padding: 1, ...(relu ? { activation: 'relu' } : {}) };
        const [x, w, b] = [randnSeeded([1, 8, 5, 6], 111), randnSeeded([cout, 8, 3, 3], 112), randnSeeded([cout], 113)];
        await checkForward((x, w, b) => conv2d(x, w, b, o), [x, w, b], 1e-5, `${cout} outputs, ${shareLoads ? '' : 'un'}shared`);
        const [xs, ws] = [x.detach().requiresGrad_(), w.detach().requiresGrad_()];
        conv2d(xs, ws, b, o).backward(randnSeeded([1, cout, 5, 6], 114));
        await sync();
      }
  } finally {
    dev.dispatch = record;
  }
  const want: string[] = [];
  for (const share of shares.map((s) => (s ? 'shared' : 'unshared'))) {
    want.push(`conv2d ${share} relu vec4<f32>`, `conv2d ${share} f32`);
    want.push(`conv2d.backward(input) ${share} vec4<f32>`, `conv2d.backward(weight) ${share}`); // 8 input channels: vec4s
  }
  assert.equal([...seen.keys()].sort(), want.sort());
  // The input gradient flips the taps: its first weight read is the last tap's (8 of a 3×3).
  assert.match(seen.get('conv2d unshared relu vec4<f32>')!, /let w0 = wt\[wb \+ 0 \* p\.w_tap \+ 0\];/);
  assert.match(seen.get('conv2d.backward(input) unshared vec4<f32>')!, /let w0 = wt\[wb \+ 8 \* p\.w_tap \+ 0\];/);
});

test('conv2d + ReLU fused: the values of relu(conv2d), no extra dispatch; nn.Sequential fuses Conv2d → ReLU with the same gradients', async () => {
  const [x, w, b] = [randnSeeded([2, 3, 6, 7], 101), randnSeeded([4, 3, 3, 3], 102), randnSeeded([4], 103)];
  await sync();
  const [plain, plainCount] = withDispatches(() => conv2d(x, w, b, { padding: 1 }));
  const [fused, fusedCount] = withDispatches(() => conv2d(x, w, b, { padding: 1, activation: 'relu' }));
  assert.is(fusedCount, plainCount, 'the ReLU costs no dispatch');
  const want = Array.from(await plain.toArray(), (v) => Math.max(v, 0));
  assert.equal(Array.from(await fused.toArray()), want, 'bitwise relu(conv2d)');
  assert.ok(want.some((v) => v === 0) && want.some((v) => v > 0), 'both sides of the ReLU are exercised');
  assert.throws(() => conv2d(x, w, b, { activation: 'gelu' as 'relu' }), /conv2d: unknown activation 'gelu' \(supported: 'relu'\)/);

  manualSeed(5);
  const model = new nn.Sequential(new nn.Conv2d(3, 4, 3, { padding: 1 }), new nn.ReLU(), new nn.Conv2d(4, 2, 3, { stride: 2 }));
  const [c0, c2] = [model.at(0) as nn.Conv2d, model.at(2) as nn.Conv2d];
  await checkFusedModel(model, x, () => conv2d(conv2d(x, c0.weight, c0.bias, { padding: 1 }).relu(), c2.weight, c2.bias, { stride: 2 }));
});

test('conv2d known values: a 2×2 box filter and PyTorch (stride 2, padding 1, bias)', async () => {
  const x = tensor([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);
  const box = tensor([1, 1, 1, 1], [1, 1, 2, 2]);
  assert.equal(Array.from(await conv2d(x, box).toArray()), [12, 16, 24, 28]);
  // /usr/bin/python3 -c "import torch, torch.nn.functional as F; x = torch.arange(1., 10.).reshape(1, 1, 3, 3);
  //   print(F.conv2d(x, torch.tensor([[[[1., -1.], [2., 0.5]]]]), torch.tensor([0.25]), stride=2, padding=1).flatten().tolist())"
  const y = conv2d(x, tensor([1, -1, 2, 0.5], [1, 1, 2, 2]), tensor([0.25], [1]), { stride: 2, padding: 1 });
  assert.equal(y.shape, [1, 1, 2, 2]);
  assertClose(await y.toArray(), [0.75, 5.75, -0.25, 19.75], 1e-6, 'PyTorch values');
});

test('conv2d without grad mode records nothing and gives the same values', async () => {
  const [x, w] = [randnSeeded([1, 2, 5, 5], 91).requiresGrad_(), randnSeeded([2, 2, 3, 3], 92)];
  const y = conv2d(x, w, null, { padding: 1 });
  const z = noGrad(() => conv2d(x, w, null, { padding: 1 }));
  assert.ok(y.node && !z.node);
  assert.equal(Array.from(await z.toArray()), Array.from(await y.toArray()));
});

test('convTuning.shareLoads = true on an adapter without subgroups: a clear error, not a shader compile failure', async () => {
  const info = deviceInfo() as { features: string[] };
  const saved = info.features;
  info.features = saved.filter((f) => f !== 'subgroups'); // as on Dawn's OpenGLES backend
  convTuning.shareLoads = true;
  try {
    assert.throws(
      () => conv2d(zeros([1, 1, 4, 4]), zeros([1, 1, 3, 3]), null, { padding: 1 }),
      /convTuning\.shareLoads = true needs the adapter's 'subgroups' feature/,
    );
  } finally {
    info.features = saved;
    convTuning.shareLoads = undefined;
  }
});

test('conv2d errors name the op and the shapes', () => {
  const message = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return (e as Error).message;
    }
    return 'no error';
  };
  assert.is(
    message(() => conv2d(zeros([3, 8, 8]), zeros([4, 3, 3, 3]))),
    'conv2d: input must be 4-D [N, Cin, H, W], got shape [3, 8, 8]',
  );
  assert.is(
    message(() => conv2d(zeros([1, 3, 8, 8]), zeros([4, 3, 3]))),
    'conv2d: weight must be 4-D [Cout, Cin/groups, kh, kw], got shape [4, 3, 3]',
  );
  assert.is(
    message(() => conv2d(zeros([2, 3, 8, 8]), zeros([4, 2, 3, 3]))),
    'conv2d: channel mismatch: input [2, 3, 8, 8] has 3 channels but weight [4, 2, 3, 3] expects 2',
  );
  assert.is(
    message(() => conv2d(zeros([2, 4, 8, 8]), zeros([4, 1, 3, 3]), null, { groups: 2 })),
    'conv2d: channel mismatch: input [2, 4, 8, 8] has 4 channels but weight [4, 1, 3, 3] expects 1 × groups 2 = 2',
  );
  assert.is(
    message(() => conv2d(zeros([2, 3, 8, 8]), zeros([4, 1, 3, 3]), null, { groups: 2 })),
    'conv2d: input channels 3 (input [2, 3, 8, 8]) are not divisible by groups=2',
  );
  assert.is(
    message(() => conv2d(zeros([2, 4, 8, 8]), zeros([3, 2, 3, 3]), null, { groups: 2 })),
    'conv2d: output channels 3 (weight [3, 2, 3, 3]) are not divisible by groups=2',
  );
  assert.is(
    message(() => conv2d(zeros([1, 1, 4, 8]), zeros([1, 1, 5, 3]), null, { padding: [0, 1] })),
    'conv2d: input [1, 1, 4, 8], weight [1, 1, 5, 3], height: kernel extent 5 (kernel 5) is larger than the padded input 4 (size 4, padding 0)',
  );
  assert.is(
    message(() => conv2d(zeros([1, 1, 8, 4]), zeros([1, 1, 3, 3]), null, { dilation: [1, 2] })),
    'conv2d: input [1, 1, 8, 4], weight [1, 1, 3, 3], width: kernel extent 5 (kernel 3, dilation 2) is larger than the padded input 4 (size 4, padding 0)',
  );
  assert.is(
    message(() => conv2d(zeros([1, 2, 4, 4]), zeros([3, 2, 3, 3]), zeros([2]))),
    'conv2d: bias must have shape [3] for weight [3, 2, 3, 3], got [2]',
  );
  assert.is(
    message(() => conv2d(zeros([1, 2, 4, 4]), zeros([3, 2, 3, 3]), null, { stride: 0 })),
    'conv2d: stride must be an integer ≥ 1 or a pair [h, w] of them, got 0',
  );
});

test.run();
