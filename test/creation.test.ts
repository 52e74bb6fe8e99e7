// Creating tensors: from host data (numbers, nested arrays, flat arrays with a shape), constant
// fills, ranges, and seeded random values (range, moments, repeatability, explicit generators).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, zeros, ones, full, zerosLike, onesLike, rand, randn, arange, manualSeed, Generator, tidy } from '../src/index.ts';
import { setup, throwsWith } from './helpers.ts';

test.before(setup);

const arr = async (t: { toArray(): Promise<Float32Array> }) => Array.from(await t.toArray());

test('tensor(): numbers, nested arrays, flat data with a shape', async () => {
  const s = tensor(2.5);
  assert.equal(s.shape, []);
  assert.is(await s.item(), 2.5);
  const m = tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  assert.equal(m.shape, [2, 3]);
  assert.equal(await arr(m), [1, 2, 3, 4, 5, 6]);
  const c = tensor([
    [[1], [2]],
    [[3], [4]],
  ]);
  assert.equal(c.shape, [2, 2, 1]);
  assert.equal(await arr(c), [1, 2, 3, 4]);
  const f = tensor(new Float32Array([1, -2, 3, -4, 5, -6]), [3, 2]);
  assert.equal(f.shape, [3, 2]);
  assert.equal(await arr(f), [1, -2, 3, -4, 5, -6]);
  assert.equal(tensor([1, 2, 3, 4], [2, 2]).shape, [2, 2]);
  assert.equal(tensor([7]).shape, [1]);
  // Values are rounded to f32.
  assert.equal(await arr(tensor([0.1, 1e-40, 3e38])), [Math.fround(0.1), Math.fround(1e-40), Math.fround(3e38)]);
  assert.equal(await arr(tensor([-0, Infinity, -Infinity])), [-0, Infinity, -Infinity]);
  assert.ok(Number.isNaN((await tensor([NaN]).toArray())[0]));
});

test('tensor(): empty tensors', async () => {
  const e = tensor([]);
  assert.equal(e.shape, [0]);
  assert.equal(await arr(e), []);
  assert.equal(zeros([2, 0, 3]).size, 0);
  assert.equal(await arr(zeros([2, 0, 3])), []);
  assert.equal(await arr(zeros([2, 0]).add(1)), []);
});

test('tensor(): requiresGrad makes a leaf', async () => {
  const x = tensor([1, 2], undefined, { requiresGrad: true });
  assert.ok(x.requiresGrad);
  assert.is(x.node, null);
  assert.is(tensor([1]).requiresGrad, false);
  x.mul(x).sum().backward();
  assert.equal(await arr(x.grad!), [2, 4]);
  assert.ok(zeros([2], { requiresGrad: true }).requiresGrad);
  assert.ok(randn([2], { requiresGrad: true }).requiresGrad);
});

test('tensor(): bad data is refused with a clear error', () => {
  throwsWith(() => tensor([[1, 2], [3]]), 'ragged');
  throwsWith(() => tensor([1, 2, 3], [2, 2]), '3 values', '[2, 2]');
  throwsWith(() => tensor([1, 'a' as unknown as number]), 'index 1', 'string');
  throwsWith(() => zeros([2, -1]), 'zeros: a shape is non-negative integer sizes', '[2,-1]');
  throwsWith(() => zeros([1.5]), 'zeros: a shape', 'size 0 is 1.5');
});

test('full, zeros, ones, zerosLike, onesLike', async () => {
  assert.equal(await arr(full([2, 3], -1.5)), new Array(6).fill(-1.5));
  assert.equal(await arr(zeros([4])), [0, 0, 0, 0]);
  assert.equal(await arr(ones([2, 2])), [1, 1, 1, 1]);
  assert.equal(full([], 7).shape, []);
  assert.is(await full([], 7).item(), 7);
  const x = tensor([[1, 2, 3]]).T;
  const z = zerosLike(x);
  assert.equal(z.shape, [3, 1]);
  assert.equal(await arr(z), [0, 0, 0]);
  assert.equal(await arr(onesLike(x)), [1, 1, 1]);
  // A recycled buffer never leaks old values into a fill.
  tidy(() => full([64], 123));
  assert.equal(await arr(zeros([64])), new Array(64).fill(0));
});

test('arange like torch.arange', async () => {
  assert.equal(await arr(arange(5)), [0, 1, 2, 3, 4]);
  assert.equal(await arr(arange(2, 7)), [2, 3, 4, 5, 6]);
  assert.equal(await arr(arange(0, 1, 0.25)), [0, 0.25, 0.5, 0.75]);
  assert.equal(await arr(arange(5, 0, -2)), [5, 3, 1]);
  assert.equal(arange(3, 3).shape, [0]);
  assert.equal(arange(3, 1).shape, [0]);
  throwsWith(() => arange(0, 5, 0), 'arange', 'step');
});

test('rand: range, shape, low/high', async () => {
  manualSeed(5);
  const u = await rand([4000]).toArray();
  assert.ok(u.every((v) => v >= 0 && v < 1));
  const mean = u.reduce((s, v) => s + v, 0) / u.length;
  assert.ok(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
  const r = await rand([2, 500], { low: -3, high: -1 }).toArray();
  assert.ok(r.every((v) => v >= -3 && v < -1));
  assert.ok(Math.min(...r) < -2.9 && Math.max(...r) > -1.1, 'spans the range');
  assert.equal(rand([2, 3, 4]).shape, [2, 3, 4]);
});

test('randn: mean and std', async () => {
  manualSeed(6);
  const n = await randn([20000]).toArray();
  const mean = n.reduce((s, v) => s + v, 0) / n.length;
  const sd = Math.sqrt(n.reduce((s, v) => s + (v - mean) ** 2, 0) / n.length);
  assert.ok(Math.abs(mean) < 0.03 && Math.abs(sd - 1) < 0.03, `mean ${mean}, std ${sd}`);
  const m = await randn([20000], { mean: 3, std: 0.5 }).toArray();
  const mean2 = m.reduce((s, v) => s + v, 0) / m.length;
  const sd2 = Math.sqrt(m.reduce((s, v) => s + (v - mean2) ** 2, 0) / m.length);
  assert.ok(Math.abs(mean2 - 3) < 0.02 && Math.abs(sd2 - 0.5) < 0.02, `mean ${mean2}, std ${sd2}`);
  // Roughly 68% within one std.
  const within = n.filter((v) => Math.abs(v) < 1).length / n.length;
  assert.ok(Math.abs(within - 0.6827) < 0.015, `${within}`);
});

test('Generator is PCG32 (XSH-RR): matches a BigInt implementation of the textbook step', () => {
  const g = new Generator(42);
  const [hi, lo] = g.getState();
  let state = (BigInt(hi) << 32n) | BigInt(lo);
  const M = (1n << 64n) - 1n;
  for (let i = 0; i < 1000; i++) {
    const old = state;
    state = (old * 6364136223846793005n + 1442695040888963407n) & M;
    const xs = Number(((old ^ (old >> 18n)) >> 27n) & 0xffffffffn);
    const rot = Number(old >> 59n);
    const want = ((xs >>> rot) | (xs << ((32 - rot) & 31))) >>> 0;
    assert.is(g.nextU32(), want, `output ${i}`);
  }
});

test('uniform bits are unbiased (each of the 32 output bits is set about half the time)', () => {
  const g = new Generator(3);
  const ones = new Array(32).fill(0);
  const n = 20000;
  for (let i = 0; i < n; i++) {
    const v = g.nextU32();
    for (let b = 0; b < 32; b++) ones[b] += (v >>> b) & 1;
  }
  // 5 standard deviations of a Binomial(n, 1/2) count.
  for (let b = 0; b < 32; b++) assert.ok(Math.abs(ones[b] - n / 2) < 5 * Math.sqrt(n / 4), `bit ${b} set ${ones[b]} of ${n} times`);
});

test("PyTorch's varargs shape form: zeros(2, 3), ones(2, 3, opts), rand/randn(2, 3) equal the array form", async () => {
  assert.equal(zeros(2, 3).shape, [2, 3]);
  assert.equal(Array.from(await ones(2, 3).toArray()), new Array(6).fill(1));
  const z = zeros(4, { requiresGrad: true });
  assert.ok(z.requiresGrad);
  assert.equal(z.shape, [4]);
  assert.equal(zeros().shape, [], 'no sizes: a scalar, as torch.zeros(())');
  const a = await randn(3, 2, { generator: new Generator(5) }).toArray();
  const b = await randn([3, 2], { generator: new Generator(5) }).toArray();
  assert.equal(Array.from(a), Array.from(b));
  const u = await rand(2, 2, { generator: new Generator(1), low: 2, high: 3 }).toArray();
  assert.equal(Array.from(u), Array.from(await rand([2, 2], { generator: new Generator(1), low: 2, high: 3 }).toArray()));
});

test('creation functions say what shape they expect', () => {
  throwsWith(() => zeros(2, 1.5), 'zeros: a shape is non-negative integer sizes', 'zeros([2, 3])', 'zeros(2, 3)', 'size 1 is 1.5');
  throwsWith(() => randn([2, -1]), 'randn: a shape', 'size 1 is -1');
  // @ts-expect-error: a string is not a size
  throwsWith(() => ones('3'), 'ones: a shape', 'size 0 is 3');
  // @ts-expect-error: full takes its shape as an array, as torch.full(size, fill_value)
  throwsWith(() => full(2, 3), 'full: the shape comes first, as an array: full([2, 3], 3)');
  throwsWith(
    () => (zeros as (...a: unknown[]) => unknown)([2, 3], { requiresGrad: true }, 4),
    'zeros: got 3 arguments after a shape array',
  );
});

test('explicit generators are independent of manualSeed', async () => {
  const a = await rand([10], { generator: new Generator(9) }).toArray();
  manualSeed(123);
  const b = await rand([10], { generator: new Generator(9) }).toArray();
  assert.equal(Array.from(a), Array.from(b));
  const c = await randn([10], { generator: new Generator(10) }).toArray();
  assert.not.equal(Array.from(c), Array.from(await randn([10], { generator: new Generator(9) }).toArray()));
});

test.run();
