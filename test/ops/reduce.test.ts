// Reductions: sum, mean, max, min, var (both corrections), logsumexp, argmax/argmin over
// single/multiple/negative/all dims with keepdim both ways, on rank 0..5 and non-contiguous
// inputs; forward vs the float64 reference, gradients vs finite differences. Also the
// split (two-pass) path taken by long reductions with few outputs.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tensor, tensor } from '../../src/index.ts';
import * as R from '../../src/reference/index.ts';
import { setup, checkForward, checkGrad } from '../helpers.ts';
import { make, host, expectRef, type Layout } from './values.ts';

test.before(setup);

type Dims = number | number[] | undefined;
const CASES: [number[], Layout, Dims][] = [
  [[], 'contiguous', undefined],
  [[7], 'contiguous', 0],
  [[3, 1, 4, 5], 'contiguous', undefined],
  [[3, 1, 4, 5], 'contiguous', 0],
  [[3, 1, 4, 5], 'contiguous', -1],
  [[3, 1, 4, 5], 'contiguous', [1, 2]],
  [[3, 1, 4, 5], 'contiguous', [0, 3]],
  [[2, 3, 1, 2, 3], 'contiguous', [0, 2, 4]],
  [[4, 6], 'transposed', 0],
  [[4, 6], 'transposed', 1],
  [[3, 5], 'sliced', -1],
  [[3, 5], 'sliced', [0, 1]],
  [[4, 3], 'expanded', 1],
  [[4, 3], 'expanded', 0],
];

const OPS: [string, (x: Tensor, d: Dims, k: boolean) => Tensor][] = [
  ['sum', (x, d, k) => x.sum(d, k)],
  ['mean', (x, d, k) => x.mean(d, k)],
  ['max', (x, d, k) => x.max(d, k)],
  ['min', (x, d, k) => x.min(d, k)],
  ['var (unbiased)', (x, d, k) => x.var(d, { keepdim: k })],
  ['var (biased)', (x, d, k) => x.var(d, { keepdim: k, correction: 0 })],
  ['logsumexp', (x, d, k) => x.logsumexp(d, k)],
];

for (const [name, f] of OPS) {
  test(`${name}: forward and gradient over dims, keepdim both ways`, async () => {
    let seed = 20;
    for (const [shape, layout, dims] of CASES) {
      for (const keepdim of [false, true]) {
        const x = make(shape, { seed: seed++, layout, scale: 2 });
        const what = `${name} ${layout}[${shape}] dims ${JSON.stringify(dims)} keepdim ${keepdim}`;
        const g = (t: Tensor) => f(t, dims, keepdim);
        if (name === 'var (unbiased)' && shape.length === 0) continue; // one value: n - 1 = 0
        await checkForward(g, [x], 1e-5, what);
        // Expanded inputs repeat values: max/min would see ties, where finite differences are one-sided.
        if ((name === 'max' || name === 'min') && layout === 'expanded') continue;
        await checkGrad(g, [x], {}, what);
      }
    }
  });
}

test('reductions over a rank-6 tensor with reversed strides: kept and reduced dims that do not merge (index code up to 6 dims)', async () => {
  // permute(5, …, 0) of a contiguous [2, 3, 2, 3, 2, 2]: no two dims merge, so the kernel decodes
  // up to 6 kept or 3 reduced coordinates.
  const base = make([2, 2, 3, 2, 3, 2], { seed: 61 });
  const x = base.permute([5, 4, 3, 2, 1, 0]);
  for (const [name, f] of OPS) {
    for (const dims of [[0], [1, 3, 5], [0, 2, 3, 5]]) {
      const what = `${name} reversed-stride [${x.shape}] dims ${JSON.stringify(dims)}`;
      const g = (t: Tensor) => f(t, dims, false);
      await checkForward(g, [x], 1e-5, what);
      await checkGrad(g, [x], {}, what);
    }
  }
});

test('output shapes follow keepdim', () => {
  const x = make([2, 3, 4], { seed: 1 });
  assert.equal(x.sum().shape, []);
  assert.equal(x.sum(undefined, true).shape, [1, 1, 1]);
  assert.equal(x.mean([0, 2]).shape, [3]);
  assert.equal(x.max(-2, true).shape, [2, 1, 4]);
  assert.equal(x.var([1], { keepdim: true }).shape, [2, 1, 4]);
  assert.equal(x.logsumexp([0, 1]).shape, [4]);
  assert.equal(x.argmax(1).shape, [2, 4]);
  assert.equal(x.argmin(-1, true).shape, [2, 3, 1]);
});

test('closed forms: sum, mean, var with both corrections', async () => {
  const x = tensor([
    [1, 2, 3, 4],
    [2, 4, 6, 8],
  ]);
  assert.equal(Array.from(await x.sum(1).toArray()), [10, 20]);
  assert.equal(Array.from(await x.mean(0).toArray()), [1.5, 3, 4.5, 6]);
  // var([1,2,3,4]) = 1.25 biased, 5/3 unbiased; the second row is twice the first: 4×.
  const unbiased = await x.var(1).toArray();
  const biased = await x.var(1, { correction: 0 }).toArray();
  assert.ok(Math.abs(unbiased[0] - 5 / 3) < 1e-6 && Math.abs(unbiased[1] - 20 / 3) < 1e-5, `${unbiased}`);
  assert.equal(Array.from(biased), [1.25, 5]);
});

test('max/min split the gradient among ties', async () => {
  const x = tensor(
    [
      [3, 1, 3],
      [0, 2, 1],
    ],
    undefined,
    { requiresGrad: true },
  );
  x.max(1).sum().backward();
  assert.equal(Array.from(await x.grad!.toArray()), [0.5, 0, 0.5, 0, 1, 0]);
  x.zeroGrad();
  x.min().backward();
  assert.equal(Array.from(await x.grad!.toArray()), [0, 0, 0, 1, 0, 0]);
});

test('max/min of all-negative values (accumulator starts from the first element)', async () => {
  const x = tensor([
    [-5, -3, -9],
    [-7, -8, -6],
  ]);
  assert.equal(Array.from(await x.max(1).toArray()), [-3, -6]);
  assert.equal(Array.from(await x.max().toArray()), [-3]);
  assert.equal(Array.from(await x.min(0).toArray()), [-7, -8, -9]);
});

test('logsumexp is stable for large values', async () => {
  const x = tensor([
    [1000, 1000],
    [-1000, -999],
  ]);
  const r = await x.logsumexp(1).toArray();
  assert.ok(Math.abs(r[0] - (1000 + Math.log(2))) < 1e-3, `${r[0]}`);
  assert.ok(Math.abs(r[1] - (-999 + Math.log(1 + Math.exp(-1)))) < 1e-3, `${r[1]}`);
  await checkForward((t) => t.logsumexp(1), [x]);
  // Inputs of magnitude 1000: float32 spacing there is 6e-5, so the GPU gradient is that coarse.
  await checkGrad((t) => t.logsumexp(-1), [x], { rtol: 1e-4 });
});

// ---- argmax / argmin: not differentiable, compared with the reference directly -------------------
test('argmax/argmin over each dim, keepdim both ways, first index on ties', async () => {
  const cases: [number[], Layout][] = [
    [[7], 'contiguous'],
    [[3, 1, 4, 5], 'contiguous'],
    [[5, 6], 'transposed'],
    [[3, 5], 'sliced'],
    [[4, 3], 'expanded'],
  ];
  let seed = 40;
  for (const [shape, layout] of cases) {
    for (const domain of ['normal', 'int'] as const) {
      const x = make(shape, { seed: seed++, layout, domain });
      const hx = await host(x);
      for (let d = -shape.length; d < shape.length; d++) {
        for (const keepdim of [false, true]) {
          const what = `${layout}[${shape}] ${domain} dim ${d} keepdim ${keepdim}`;
          await expectRef(x.argmax(d, keepdim), R.argmax(hx, { dim: d, keepdim }), 0, `argmax ${what}`);
          await expectRef(x.argmin(d, keepdim), R.argmin(hx, { dim: d, keepdim }), 0, `argmin ${what}`);
        }
      }
    }
  }
});

test('rank 0 accepts dim 0 / -1 and [] means all dims (as torch)', async () => {
  const s = tensor(3.5);
  assert.is(await s.sum(0).item(), 3.5);
  assert.equal(s.mean(-1, true).shape, []);
  const x = tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  assert.equal(x.sum([]).shape, []);
  assert.is(await x.sum([]).item(), 21);
  await checkForward((t) => t.sum([], true), [x]);
  await checkForward((t) => t.var([], { correction: 0 }), [x]);
  await checkForward((t) => t.add(1).sum(-1), [s]);
});

test('argmax of a rank-0 tensor is 0', async () => {
  assert.is(await tensor(3.5).argmax(0).item(), 0);
  assert.equal(tensor(3.5).argmin(-1).shape, []);
});

// ---- long reductions with few outputs: the split two-pass path ----------------------------------
test('long reductions (split into partial results) match the reference', async () => {
  const cases: [number[], Layout, Dims][] = [
    [[2, 8192], 'contiguous', 1], // chunks of 256
    [[10000], 'contiguous', 0], // 10000 = 625 × 16: smaller chunks
    [[3, 4, 2500], 'contiguous', [1, 2]], // two reduced dims merged
    [[8200, 2], 'transposed', 1], // non-contiguous: copied first
    [[8209], 'contiguous', undefined], // prime: no chunk divides, falls back to one pass
    [[64, 3, 16, 16], 'contiguous', [0, 2, 3]], // per-channel (batch-norm-like): trailing dims first
    [[40, 5, 300], 'transposed', [0, 1]], // reduced dims not trailing, no trailing run: one pass
  ];
  let seed = 60;
  for (const [shape, layout, dims] of cases) {
    const x = make(shape, { seed: seed++, layout });
    const what = `${layout}[${shape}] dims ${JSON.stringify(dims)}`;
    await checkForward((t) => t.sum(dims), [x], 1e-5, `sum ${what}`);
    await checkForward((t) => t.mean(dims, true), [x], 1e-5, `mean ${what}`);
    await checkForward((t) => t.max(dims), [x], 1e-5, `max ${what}`);
    await checkForward((t) => t.min(dims, true), [x], 1e-5, `min ${what}`);
  }
  // All-negative values through the split max (an init of 0 would win).
  const neg = make([16384], { seed: 3, domain: 'positive' }).neg();
  const hn = await host(neg);
  await expectRef(neg.max(), R.max(hn, {}), 0, 'split max of negatives');
});

test('gradient of a long reduction (split path) is the closed form', async () => {
  const x = make([2, 8192], { seed: 5 }).requiresGrad_();
  x.mean().backward();
  const g = await x.grad!.toArray();
  assert.ok(
    g.every((v) => Math.abs(v - 1 / 16384) < 1e-9),
    'mean gradient = 1/n everywhere',
  );
  // The per-channel path (trailing dims first): mean over (0, 2) of [64, 3, 256].
  const y = make([64, 3, 256], { seed: 6 }).requiresGrad_();
  y.mean([0, 2]).sum().backward();
  const gy = await y.grad!.toArray();
  assert.ok(
    gy.every((v) => Math.abs(v - 1 / 16384) < 1e-9),
    'per-channel mean gradient = 1/(N·L) everywhere',
  );
});

test('reductions inside a larger graph (logsumexp-normalised weights)', async () => {
  // softmax-like composite: exp(x - logsumexp(x)) summed over a dim of a 4-D tensor.
  const f = (x: Tensor) => x.sub(x.logsumexp(2, true)).exp().mul(x).sum([0, 2]);
  await checkForward(f, [make([2, 3, 4, 2], { seed: 8 })]);
  await checkGrad(f, [make([2, 3, 4, 2], { seed: 8 })]);
});

test.run();
