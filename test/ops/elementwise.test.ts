// Pointwise ops: GPU forward vs the float64 reference (relative error < 1e-5) and gradients vs
// finite differences, over shapes with odd sizes, size-1 dims, rank 0, rank >= 4, broadcasting
// both ways, and non-contiguous (transposed / strided / expanded) inputs.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tensor, tensor, where, noGrad } from '../../src/index.ts';
import * as R from '../../src/reference/index.ts';
import { setup, checkForward, checkGrad } from '../helpers.ts';
import { make, host, expectRef, type Domain, type Layout } from './values.ts';

test.before(setup);

interface Case {
  shape: number[];
  layout: Layout;
}
const UNARY_CASES: Case[] = [
  { shape: [], layout: 'contiguous' },
  { shape: [7], layout: 'contiguous' },
  { shape: [3, 5], layout: 'transposed' },
  { shape: [2, 3, 1, 5], layout: 'contiguous' },
  { shape: [5, 6], layout: 'sliced' },
  { shape: [4, 3], layout: 'expanded' },
  { shape: [2, 1, 3, 1, 2, 2], layout: 'transposed' },
];

const UNARY: [string, (x: Tensor) => Tensor, Domain][] = [
  ['neg', (x) => x.neg(), 'normal'],
  ['exp', (x) => x.exp(), 'normal'],
  ['log', (x) => x.log(), 'positive'],
  ['sqrt', (x) => x.sqrt(), 'positive'],
  ['abs', (x) => x.abs(), 'away'],
  ['relu', (x) => x.relu(), 'away'],
  ['sigmoid', (x) => x.sigmoid(), 'normal'],
  ['tanh', (x) => x.tanh(), 'normal'],
  ['square', (x) => x.square(), 'normal'],
  ['reciprocal', (x) => x.reciprocal(), 'away'],
];

for (const [name, f, domain] of UNARY) {
  test(`${name}: forward and gradient on every layout`, async () => {
    let seed = 10;
    for (const c of UNARY_CASES) {
      const x = make(c.shape, { domain, seed: seed++, layout: c.layout, scale: 1.5 });
      const what = `${name} ${c.layout} [${c.shape}]`;
      await checkForward(f, [x], 1e-5, what);
      await checkGrad(f, [x], {}, what);
    }
  });
}

test('sigmoid and tanh saturate without NaN at large |x|', async () => {
  const x = tensor([-100, -20, 20, 100]);
  assert.equal(Array.from(await x.tanh().toArray()), [-1, -1, 1, 1]);
  const s = await x.sigmoid().toArray();
  assert.ok(s[0] >= 0 && s[0] < 1e-30 && s[3] === 1, `sigmoid: ${s}`);
  await checkForward((v) => v.sigmoid(), [x], 1e-5, 'sigmoid large');
  await checkForward((v) => v.tanh(), [x], 1e-5, 'tanh large');
});

// ---- binary ----------------------------------------------------------------------------------
// [a shape, a layout, b shape, b layout]
const BINARY_CASES: [number[], Layout, number[], Layout][] = [
  [[3, 5], 'contiguous', [3, 5], 'contiguous'],
  [[4, 1, 3], 'contiguous', [5, 1], 'contiguous'], // both operands broadcast
  [[5, 1], 'contiguous', [4, 1, 3], 'contiguous'],
  [[], 'contiguous', [2, 3], 'contiguous'], // rank 0 on either side
  [[2, 3], 'transposed', [], 'contiguous'],
  [[2, 1, 3, 1, 2], 'contiguous', [1, 2, 1, 3, 1], 'contiguous'], // rank 5, every dim broadcast somewhere
  [[2, 1, 2, 1, 2, 1, 2, 1], 'contiguous', [1, 3, 1, 2, 1, 3, 1, 2], 'contiguous'], // rank 8: no dims merge
  [[3, 4], 'transposed', [3, 4], 'sliced'],
  [[4, 3], 'expanded', [4, 3], 'transposed'],
  [[6], 'sliced', [4, 1], 'expanded'],
];

const BINARY: [string, (a: Tensor, b: Tensor) => Tensor, Domain, Domain][] = [
  ['add', (a, b) => a.add(b), 'normal', 'normal'],
  ['sub', (a, b) => a.sub(b), 'normal', 'normal'],
  ['mul', (a, b) => a.mul(b), 'normal', 'normal'],
  ['div', (a, b) => a.div(b), 'normal', 'away'],
  ['pow', (a, b) => a.pow(b), 'positive', 'normal'],
  ['maximum', (a, b) => a.maximum(b), 'normal', 'normal'],
  ['minimum', (a, b) => a.minimum(b), 'normal', 'normal'],
];

for (const [name, f, da, db] of BINARY) {
  test(`${name}: forward and gradient with broadcasting and strided operands`, async () => {
    let seed = 100;
    for (const [sa, la, sb, lb] of BINARY_CASES) {
      const a = make(sa, { domain: da, seed: seed++, layout: la });
      const b = make(sb, { domain: db, seed: seed++, layout: lb });
      const what = `${name} ${la}[${sa}] ${lb}[${sb}]`;
      await checkForward(f, [a, b], 1e-5, what);
      await checkGrad(f, [a, b], {}, what);
    }
  });
}

test('pow with a tensor exponent: negative bases with integer exponents, 0^0 (as torch.pow)', async () => {
  const a = tensor([-2, -2, -3, 0, 0, 2, -2], undefined, { requiresGrad: true });
  const b = tensor([2, 3, 0, 0, 2, 0.5, 0.5], undefined, { requiresGrad: true });
  const y = a.pow(b);
  // /usr/bin/python3: a = torch.tensor([-2.,-2,-3,0,0,2,-2], requires_grad=True);
  // b = torch.tensor([2.,3,0,0,2,0.5,0.5], requires_grad=True); y = a**b; y.sum().backward()
  // y = [4, -8, 1, 1, 0, 1.4142, nan]; a.grad = [-4, 12, 0, 0, 0, 0.3536, nan]; b.grad = [nan, nan, nan, 0, 0, 0.9803, nan]
  const same = (got: Float32Array, want: number[]) =>
    want.forEach((w, i) =>
      assert.ok(Number.isNaN(w) ? Number.isNaN(got[i]) : Math.abs(got[i] - w) < 1e-4, `element ${i}: ${got[i]} vs ${w}`),
    );
  same(await y.toArray(), [4, -8, 1, 1, 0, Math.SQRT2, NaN]);
  y.sum().backward();
  same(await a.grad!.toArray(), [-4, 12, 0, 0, 0, 0.5 / Math.SQRT2, NaN]);
  same(await b.grad!.toArray(), [NaN, NaN, NaN, 0, 0, Math.SQRT2 * Math.log(2), NaN]);
  // Against the reference, with random negative bases and integer exponents (broadcast).
  const base = make([3, 4], { seed: 5 });
  const expo = make([4], { domain: 'int', seed: 6 });
  await checkForward((p, q) => p.pow(q), [base, expo.abs()]);
  await checkGrad((p) => p.pow(expo.abs()), [base]);
});

test('gradients of broadcast operands have the operand shapes', async () => {
  const a = make([4, 1, 3], { seed: 1 }).requiresGrad_();
  const b = make([5, 1], { seed: 2 }).requiresGrad_();
  const c = make([], { seed: 3 }).requiresGrad_();
  a.mul(b).add(c).sum().backward();
  assert.equal(a.grad!.shape, [4, 1, 3]);
  assert.equal(b.grad!.shape, [5, 1]);
  assert.equal(c.grad!.shape, []);
  // d/dc sum(a*b + c) = number of output elements.
  assert.is(await c.grad!.item(), 4 * 5 * 3);
});

test('maximum/minimum split the gradient evenly on ties (as PyTorch)', async () => {
  const a = tensor([1, 2, 3], undefined, { requiresGrad: true });
  const b = tensor([1, 5, 0], undefined, { requiresGrad: true });
  a.maximum(b).sum().backward();
  assert.equal(Array.from(await a.grad!.toArray()), [0.5, 0, 1]);
  assert.equal(Array.from(await b.grad!.toArray()), [0.5, 1, 0]);
  a.zeroGrad();
  b.zeroGrad();
  a.minimum(b).sum().backward();
  assert.equal(Array.from(await a.grad!.toArray()), [0.5, 1, 0]);
  assert.equal(Array.from(await b.grad!.toArray()), [0.5, 0, 1]);
});

// ---- tensor with scalar -------------------------------------------------------------------------
const SCALAR: [string, (x: Tensor) => Tensor, Domain][] = [
  ['add 2.5', (x) => x.add(2.5), 'normal'],
  ['sub 1.25', (x) => x.sub(1.25), 'normal'],
  ['mul -3', (x) => x.mul(-3), 'normal'],
  ['div 4', (x) => x.div(4), 'normal'],
  ['div 3 (inexact 1/3)', (x) => x.div(3), 'normal'],
  ['pow 2', (x) => x.pow(2), 'normal'],
  ['pow 3 (negative bases)', (x) => x.pow(3), 'normal'],
  ['pow -1', (x) => x.pow(-1), 'away'],
  ['pow -2', (x) => x.pow(-2), 'away'],
  ['pow 0', (x) => x.pow(0), 'away'],
  ['pow 0.5', (x) => x.pow(0.5), 'positive'],
  ['pow 1.7', (x) => x.pow(1.7), 'positive'],
  ['maximum 0.1', (x) => x.maximum(0.1), 'away'],
  ['minimum -0.1', (x) => x.minimum(-0.1), 'away'],
];

for (const [name, f, domain] of SCALAR) {
  test(`scalar ${name}: forward and gradient`, async () => {
    let seed = 300;
    for (const c of [UNARY_CASES[0], UNARY_CASES[2], UNARY_CASES[3], UNARY_CASES[5]]) {
      const x = make(c.shape, { domain, seed: seed++, layout: c.layout });
      const what = `${name} ${c.layout} [${c.shape}]`;
      await checkForward(f, [x], 1e-5, what);
      await checkGrad(f, [x], {}, what);
    }
  });
}

// ---- comparisons (not differentiable: checked directly against the reference) --------------------
const CMP = ['gt', 'lt', 'ge', 'le', 'eq'] as const;

test('comparisons tensor-tensor with broadcasting, ties and strided inputs', async () => {
  let seed = 500;
  for (const [sa, la, sb, lb] of BINARY_CASES) {
    // Integer values in [-2, 2] make ties frequent, so ge/le/eq are really exercised.
    const a = make(sa, { domain: 'int', seed: seed++, layout: la });
    const b = make(sb, { domain: 'int', seed: seed++, layout: lb });
    const [ha, hb] = [await host(a), await host(b)];
    for (const op of CMP) {
      await expectRef(a[op](b), R[op](ha, hb), 0, `${op} ${la}[${sa}] ${lb}[${sb}]`);
    }
  }
});

test('comparisons tensor-scalar, including ties', async () => {
  const x = make([3, 7], { domain: 'int', seed: 9, layout: 'transposed' });
  const hx = await host(x);
  for (const v of [-1, 0, 0.5, 2]) {
    const s = R.refTensor([v], []);
    for (const op of CMP) await expectRef(x[op](v), R[op](hx, s), 0, `${op} scalar ${v}`);
  }
});

test('comparisons record no gradient', () => {
  const x = make([4], { seed: 1 }).requiresGrad_();
  for (const op of CMP) {
    assert.is(x[op](0).node, null, `${op} scalar`);
    assert.is(x[op](x.neg()).node, null, `${op} tensor`);
  }
});

// ---- where ----------------------------------------------------------------------------------------
test('where: forward and gradient with a broadcast condition', async () => {
  const cases: [number[], number[], number[], Layout][] = [
    [[3, 4], [3, 4], [3, 4], 'contiguous'],
    [[3, 1], [1, 4], [], 'contiguous'], // all three broadcast
    [[2, 1, 3, 1], [2, 4, 1, 2], [3, 2], 'contiguous'],
    [[4, 3], [4, 3], [4, 3], 'transposed'],
  ];
  let seed = 700;
  for (const [sc, sa, sb, layout] of cases) {
    // The condition is a constant of the graph (no gradient flows to it).
    const cond = make(sc, { seed: seed++, layout: sc.length >= 2 ? layout : 'contiguous' }).gt(0);
    const a = make(sa, { seed: seed++, layout: sa.length >= 2 ? layout : 'contiguous' });
    const b = make(sb, { seed: seed++ });
    const f = (x: Tensor, y: Tensor) => where(cond, x, y);
    const what = `where [${sc}] [${sa}] [${sb}] ${layout}`;
    await checkForward(f, [a, b], 1e-5, what);
    await checkGrad(f, [a, b], {}, what);
    await expectRef(where(cond, a, b), R.where(await host(cond), await host(a), await host(b)), 0, what);
  }
});

test('a fused-looking chain of pointwise ops matches the reference', async () => {
  const f = (x: Tensor, y: Tensor) => x.mul(y).add(x.exp().mul(0.5)).sigmoid().sub(y.square().div(3)).tanh();
  const x = make([3, 5, 2], { seed: 1 });
  const y = make([5, 1], { seed: 2 });
  await checkForward(f, [x, y]);
  await checkGrad(f, [x, y]);
});

test('noGrad pointwise ops record nothing', () => {
  const x = make([3], { seed: 1 }).requiresGrad_();
  const y = noGrad(() => x.exp().add(x));
  assert.is(y.node, null);
});

test.run();
