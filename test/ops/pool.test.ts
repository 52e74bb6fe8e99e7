// Pooling: maxPool2d / avgPool2d forward vs the float64 reference and gradients vs finite
// differences (overlapping, padded, non-square, disjoint windows with odd sizes), the per-window
// backward kernel vs the gather kernel, ties, adaptiveAvgPool2d, errors.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setup, checkForward, checkGrad, checkOp, randnSeeded } from '../helpers.ts';
import { tensor, ones, noGrad, type Tensor } from '../../src/index.ts';
import { maxPool2d, avgPool2d, adaptiveAvgPool2d, geometry, poolForward, poolBackward } from '../../src/ops/pool.ts';
import { poolTuning } from '../../src/ops/tuning.ts';
import { conv2d } from '../../src/ops/conv.ts';

test.before(setup);

const cases = [
  { name: 'kernel 2 stride 2', shape: [2, 3, 6, 7], o: { kernelSize: 2 } },
  { name: 'overlapping kernel 3 stride 2 padding 1', shape: [2, 2, 7, 9], o: { kernelSize: 3, stride: 2, padding: 1 } },
  {
    name: 'non-square kernel [3,2] stride [1,2]',
    shape: [1, 2, 5, 6],
    o: { kernelSize: [3, 2] as [number, number], stride: [1, 2] as [number, number] },
  },
];

for (const c of cases) {
  test(`maxPool2d ${c.name}: forward and gradient`, async () => {
    const x = randnSeeded(c.shape, 4); // continuous values: no ties
    await checkForward((t) => maxPool2d(t, c.o), [x]);
    await checkGrad((t) => maxPool2d(t, c.o), [x]);
  });
  for (const countIncludePad of [true, false]) {
    test(`avgPool2d ${c.name}, countIncludePad ${countIncludePad}: forward and gradient`, async () => {
      const x = randnSeeded(c.shape, 5);
      await checkForward((t) => avgPool2d(t, { ...c.o, countIncludePad }), [x]);
      await checkGrad((t) => avgPool2d(t, { ...c.o, countIncludePad }), [x]);
    });
  }
}

test('maxPool2d on a non-contiguous input and known values', async () => {
  const x = randnSeeded([2, 5, 6, 3], 6).permute(0, 3, 1, 2); // [2, 3, 5, 6] view
  await checkForward((t) => maxPool2d(t, { kernelSize: 2, stride: 1 }), [x]);
  // A crop of a padded block (as conv2d and batchNorm return), read in place.
  const padded = randnSeeded([2, 3, 8, 8], 7).slice(2, 0, 7).slice(3, 0, 6);
  await checkOp((t) => maxPool2d(t, { kernelSize: 2 }), [padded], 'padded view');
  await checkOp((t) => avgPool2d(t, { kernelSize: 3, stride: 2, padding: 1 }), [padded], 'padded view');
  const y = tensor([1, 5, 2, 0, 3, 4, 9, 1, 7, 8, 6, 2, 0, 1, 2, 3], [1, 1, 4, 4]);
  assert.equal(Array.from(await maxPool2d(y, { kernelSize: 2 }).toArray()), [5, 9, 8, 6]);
});

test('maxPool2d routes the gradient of a tie to the first maximum only', async () => {
  const x = tensor([2, 2, 1, 2], [1, 1, 2, 2]).requiresGrad_();
  maxPool2d(x, { kernelSize: 2 }).sum().backward();
  assert.equal(Array.from(await x.grad!.toArray()), [1, 0, 0, 0]);
});

test('adaptiveAvgPool2d(1) is the per-channel mean', async () => {
  const x = randnSeeded([3, 4, 5, 7], 8);
  await checkForward((t) => adaptiveAvgPool2d(t, 1), [x]);
  assert.equal(adaptiveAvgPool2d(x, 1).shape, [3, 4, 1, 1]);
  assert.throws(() => adaptiveAvgPool2d(x, 2), /only output size 1/);
});

// 2×2 / stride 2 max pooling of vec4-aligned rows runs kernels/pool2d_max2_vec4.wgsl: contiguous
// rows of 8, conv2d outputs whose rows of 14 and 7 sit in padded rows of 16 and 8 (odd width: the
// last column is in no window), an offset batch slice, and ties (the first maximum must win).
const VEC4_INPUTS: [string, () => Tensor][] = [
  ['contiguous [2, 3, 6, 8]', () => randnSeeded([2, 3, 6, 8], 21)],
  [
    'conv2d output [2, 2, 14, 14] (rows padded to 16)',
    () => noGrad(() => conv2d(randnSeeded([2, 1, 14, 14], 22), randnSeeded([2, 1, 3, 3], 23), null, { padding: 1 })),
  ],
  [
    'conv2d output [1, 3, 7, 7] (rows padded to 8)',
    () => noGrad(() => conv2d(randnSeeded([1, 2, 7, 7], 24), randnSeeded([3, 2, 3, 3], 25), null, { padding: 1 })),
  ],
  ['batch slice [1, 2, 4, 12] at offset 96', () => randnSeeded([2, 2, 4, 12], 26).slice(0, 1, 2)],
  [
    'ties [1, 1, 4, 8]',
    () => tensor([1, 1, 0, 2, 5, 5, 3, 3, 1, 1, 2, 2, 5, 5, 3, 3, 4, 0, 0, 0, 7, 7, 7, 7, 0, 4, 0, 0, 7, 7, 7, 7], [1, 1, 4, 8]),
  ],
];
for (const [name, make] of VEC4_INPUTS) {
  test(`maxPool2d 2×2 on the vec4 kernel, ${name}: the same values and argmax as the generic kernel, and the reference`, async () => {
    const x = make();
    const g = geometry('maxPool2d', x, { kernelSize: 2 });
    const fast = poolForward('maxPool2d', x, g, true, true);
    poolTuning.generic = true;
    const slow = poolForward('maxPool2d', x, g, true, true);
    poolTuning.generic = false;
    assert.equal(Array.from(await fast.out.toArray()), Array.from(await slow.out.toArray()), 'values');
    assert.equal(Array.from(await fast.idx.toArray()), Array.from(await slow.idx.toArray()), 'argmax indices');
    await checkForward((t) => maxPool2d(t, { kernelSize: 2 }), [x]);
  });
}

test('maxPool2d 2×2 on the vec4 kernel: gradient vs finite differences', async () => {
  await checkGrad((t) => maxPool2d(t, { kernelSize: 2 }), [randnSeeded([1, 2, 4, 8], 27)]);
});

test('pooling errors name the op and shapes', () => {
  assert.throws(
    () => maxPool2d(randnSeeded([2, 3, 4]), { kernelSize: 2 }),
    /maxPool2d: expected an NCHW input of rank 4, got shape \[2, 3, 4\]/,
  );
  assert.throws(() => avgPool2d(randnSeeded([1, 1, 2, 2]), { kernelSize: 3 }), /larger than the input/);
  assert.throws(() => maxPool2d(randnSeeded([1, 1, 4, 4]), { kernelSize: 2, padding: 2 }), /at most half the kernel/);
});

// ---- disjoint windows (kernel = stride, no padding): the per-window backward kernel ----------------

const DISJOINT: { shape: number[]; k: number | [number, number] }[] = [
  { shape: [2, 3, 7, 9], k: 2 }, // odd sizes: the last row and column belong to no window
  { shape: [1, 2, 9, 7], k: 3 }, // 7 = 2·3 + 1
  { shape: [2, 2, 6, 7], k: [2, 3] }, // non-square, 7 = 2·3 + 1
  { shape: [1, 1, 2, 2], k: 2 }, // one window
  { shape: [2, 3, 4, 5], k: 1 }, // 1×1: identity
];

for (const { shape, k } of DISJOINT) {
  test(`pooling ${JSON.stringify(shape)} kernel = stride = ${JSON.stringify(k)}: max and avg gradients vs finite differences and the gather kernel`, async () => {
    const x = randnSeeded(shape, 11);
    const o = { kernelSize: k };
    await checkOp((t) => maxPool2d(t, o), [x], 'maxPool2d');
    await checkOp((t) => avgPool2d(t, o), [x], 'avgPool2d');
    // The per-window kernel against the gather kernel on the same upstream gradient.
    const g = geometry('maxPool2d', x, o);
    // The upstream gradient as a strided view (as conv2d's input gradient, a crop of a padded tensor).
    const grad = randnSeeded([g.N, g.C, g.OH + 1, g.OW + 3], 12)
      .slice(2, 0, g.OH)
      .slice(3, 1, g.OW + 1);
    assert.not.ok(grad.isContiguous && g.OH > 1);
    for (const max of [true, false]) {
      const { out, idx } = poolForward('pool', x, g, max, true);
      ones([...x.shape]).dispose(); // leaves non-zero memory in the buffer pool for gx to reuse
      const fast = await poolBackward('pool', grad, max ? idx : null, g, max, true).toArray();
      const slow = await poolBackward('pool', grad, max ? idx : null, g, max, true, null, true).toArray();
      // The input as a padded crop view (as conv2d's output): the window kernel writes gx in that
      // layout, with the same values.
      const xp = randnSeeded([g.N, g.C, g.H + 2, 4 * Math.ceil((g.W + 1) / 4)], 13)
        .slice(2, 0, g.H)
        .slice(3, 0, g.W);
      const padded = poolBackward('pool', grad, max ? idx : null, g, max, true, xp);
      assert.equal(padded.strides, xp.strides, `max=${max}: gx in the input's padded layout`);
      assert.equal(Array.from(await padded.toArray()), Array.from(slow), `max=${max}: padded layout, same values`);
      assert.equal(Array.from(fast), Array.from(slow), `max=${max}: window kernel = gather kernel`);
      // Uncovered inputs (floor mode) get exactly 0, covered ones the window's share.
      const [H, W] = [g.H, g.W];
      for (let h = g.OH * g.k[0]; h < H; h++) for (let w = 0; w < W; w++) assert.is(fast[h * W + w], 0, `row ${h} is outside every window`);
      const g0 = (await grad.toArray())[0];
      if (!max) assert.ok(Math.abs(fast[0] - g0 / (g.k[0] * g.k[1])) < 1e-6, 'avg: g / window size');
      else {
        const window0 = Array.from({ length: g.k[0] }, (_, i) => Array.from(fast.slice(i * W, i * W + g.k[1]))).flat();
        assert.equal(
          window0.filter((v) => v !== 0),
          [g0],
          'max: window 0 passes its g to one input',
        );
      }
      out.dispose();
      idx.dispose();
    }
  });
}

test('maxPool2d backward: a non-contiguous upstream gradient and kernel = stride with padding (gather path)', async () => {
  const x = randnSeeded([2, 3, 6, 6], 13).requiresGrad_();
  const y = maxPool2d(x, { kernelSize: 2 });
  y.backward(randnSeeded([3, 2, 3, 3], 14).transpose(0, 1)); // [2, 3, 3, 3] view
  const gt = randnSeeded([3, 2, 3, 3], 14).transpose(0, 1).contiguous();
  const x2 = x.detach().requiresGrad_();
  maxPool2d(x2, { kernelSize: 2 }).backward(gt);
  assert.equal(Array.from(await x.grad!.toArray()), Array.from(await x2.grad!.toArray()));
  await checkOp((t) => maxPool2d(t, { kernelSize: 2, padding: 1 }), [randnSeeded([1, 2, 5, 5], 15)], 'padded');
});

test.run();
