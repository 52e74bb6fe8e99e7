import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setup, checkForward, checkGrad, randnSeeded } from '../helpers.ts';
import { tensor } from '../../src/index.ts';
import { maxPool2d, avgPool2d, adaptiveAvgPool2d } from '../../src/ops/pool.ts';

test.before(setup);

const cases = [
  { name: 'kernel 2 stride 2', shape: [2, 3, 6, 7], o: { kernelSize: 2 } },
  { name: 'overlapping kernel 3 stride 2 padding 1', shape: [2, 2, 7, 9], o: { kernelSize: 3, stride: 2, padding: 1 } },
  { name: 'non-square kernel [3,2] stride [1,2]', shape: [1, 2, 5, 6], o: { kernelSize: [3, 2] as [number, number], stride: [1, 2] as [number, number] } },
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

test('pooling errors name the op and shapes', () => {
  assert.throws(() => maxPool2d(randnSeeded([2, 3, 4]), { kernelSize: 2 }), /maxPool2d: expected an NCHW input of rank 4, got shape \[2, 3, 4\]/);
  assert.throws(() => avgPool2d(randnSeeded([1, 1, 2, 2]), { kernelSize: 3 }), /larger than the input/);
  assert.throws(() => maxPool2d(randnSeeded([1, 1, 4, 4]), { kernelSize: 2, padding: 2 }), /at most half the kernel/);
});

test.run();
