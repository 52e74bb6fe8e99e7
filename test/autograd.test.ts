// Autograd semantics: composite graphs with shared subexpressions (diamond, residual) against
// finite differences; gradient accumulation (a tensor used twice, .grad across backward calls);
// what a second backward() does with and without retainGraph; detach, noGrad, zeroGrad; errors
// for non-scalar roots; broadcasting undone in backward; deep graphs.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tensor, tensor, noGrad, isGradEnabled, tidy, ones, stats } from '../src/index.ts';
import { setup, checkForward, checkGrad, throwsWith } from './helpers.ts';
import { make } from './ops/values.ts';

test.before(setup);

const arr = async (t: Tensor) => Array.from(await t.toArray());

// ---- composite graphs vs finite differences ------------------------------------------------------
test('diamond: y = f(x); z = g(y) + h(y)', async () => {
  const diamond = (x: Tensor) => {
    const y = x.mul(1.5).tanh();
    return y.exp().add(y.square().mul(y)).sum(1);
  };
  const x = make([3, 4], { seed: 1 });
  await checkForward(diamond, [x]);
  await checkGrad(diamond, [x]);
});

test('diamond with broadcasting branches and a shared matmul', async () => {
  const f = (x: Tensor, w: Tensor) => {
    const h = x.matmul(w); // [4, 3]
    const a = h.sum(0, true).sigmoid(); // [1, 3], broadcast back below
    const b = h.max(1, true); // [4, 1]
    return h.mul(a).sub(b).add(h.abs()).mean();
  };
  const x = make([4, 5], { seed: 2 });
  const w = make([5, 3], { seed: 3 });
  await checkForward(f, [x, w]);
  await checkGrad(f, [x, w]);
});

test('residual reuse: x + layer(x), stacked three times', async () => {
  const layer = (x: Tensor, w: Tensor, b: Tensor) => x.matmul(w).add(b).tanh();
  const net = (x: Tensor, w: Tensor, b: Tensor) => {
    let h = x;
    for (let i = 0; i < 3; i++) h = h.add(layer(h, w, b)); // the same w, b reused in each block
    return h.square().sum();
  };
  const inputs = [make([3, 4], { seed: 4 }), make([4, 4], { seed: 5, scale: 0.5 }), make([4], { seed: 6 })];
  await checkForward(net, inputs);
  await checkGrad(net, inputs);
});

test('a tensor used twice accumulates both contributions', async () => {
  const x = tensor([1, -2, 3], undefined, { requiresGrad: true });
  x.mul(x).sum().backward(); // d/dx x² = 2x
  assert.equal(await arr(x.grad!), [2, -4, 6]);
  const y = tensor([1, 2], undefined, { requiresGrad: true });
  y.add(y).add(y.mul(3)).sum().backward(); // 1 + 1 + 3
  assert.equal(await arr(y.grad!), [5, 5]);
  await checkGrad((t) => t.mul(t).add(t.exp().mul(t)), [make([5], { seed: 7 })]);
});

// ---- .grad accumulation and repeated backward --------------------------------------------------------
test('.grad accumulates across backward() of two separately built graphs', async () => {
  const x = tensor([1, 2, 3], undefined, { requiresGrad: true });
  x.mul(2).sum().backward();
  assert.equal(await arr(x.grad!), [2, 2, 2]);
  x.square().sum().backward();
  assert.equal(await arr(x.grad!), [4, 6, 8]);
});

test('a second backward() on the same graph throws a clear error', async () => {
  const x = tensor([1, 2], undefined, { requiresGrad: true });
  const loss = x.exp().sum();
  loss.backward();
  const before = await arr(x.grad!);
  throwsWith(() => loss.backward(), 'backward', 'second time', 'retainGraph');
  assert.equal(await arr(x.grad!), before, 'the failed call changed nothing');
});

test('with retainGraph the second backward() adds the gradient again', async () => {
  const x = tensor([0.5, -1], undefined, { requiresGrad: true });
  const loss = x.square().mul(x).sum(); // d/dx x³ = 3x²
  loss.backward(undefined, { retainGraph: true });
  assert.equal(await arr(x.grad!), [0.75, 3]);
  loss.backward();
  assert.equal(await arr(x.grad!), [1.5, 6]);
  throwsWith(() => loss.backward(), 'second time'); // the last call did not retain
});

test('zeroGrad clears .grad', async () => {
  const x = tensor([1, 2], undefined, { requiresGrad: true });
  x.sum().backward();
  x.zeroGrad();
  assert.is(x.grad, null);
  x.mul(3).sum().backward();
  assert.equal(await arr(x.grad!), [3, 3]);
});

// ---- detach / noGrad -------------------------------------------------------------------------------
test('detach stops gradients but shares values', async () => {
  const x = tensor([1, 2, 3], undefined, { requiresGrad: true });
  const d = x.detach();
  assert.is(d.node, null);
  assert.is(d.requiresGrad, false);
  assert.is(d.storage, x.storage);
  x.mul(d).sum().backward(); // only the first factor is differentiated: grad = x
  assert.equal(await arr(x.grad!), [1, 2, 3]);
  const y = x.exp().detach();
  throwsWith(() => y.sum().backward(), 'does not require grad');
});

test('noGrad records nothing and restores grad mode, also after an exception', () => {
  const x = tensor([1, 2], undefined, { requiresGrad: true });
  assert.ok(isGradEnabled());
  const y = noGrad(() => {
    assert.is(isGradEnabled(), false);
    const inner = noGrad(() => x.mul(2));
    assert.is(isGradEnabled(), false, 'nested noGrad keeps grad off');
    return inner.add(x).exp().sum();
  });
  assert.ok(isGradEnabled());
  assert.is(y.node, null);
  throwsWith(() => y.backward(), 'does not require grad');
  const boom = new Error('boom');
  assert.throws(
    () =>
      noGrad(() => {
        throw boom;
      }),
    (e: unknown) => e === boom,
    'noGrad rethrows the very error fn threw',
  );
  assert.ok(isGradEnabled(), 'grad mode restored after a throw');
  assert.ok(x.mul(2).node !== null);
});

test('relu and abs at exactly 0 pass gradient 0, as PyTorch', async () => {
  const x = tensor([-1, 0, 2], undefined, { requiresGrad: true });
  x.relu().sum().backward();
  assert.equal(await arr(x.grad!), [0, 0, 1]);
  const y = tensor([-1, 0, 2], undefined, { requiresGrad: true });
  y.abs().sum().backward();
  assert.equal(await arr(y.grad!), [-1, 0, 1]);
});

test('non-differentiable ops pass no gradient (mask from a comparison)', async () => {
  const x = tensor([-1, 2, -3, 4], undefined, { requiresGrad: true });
  x.gt(0).mul(x).sum().backward();
  assert.equal(await arr(x.grad!), [0, 1, 0, 1]);
});

// ---- roots and gradients given explicitly ---------------------------------------------------------
test('backward on a non-scalar without a gradient throws; with one it works', async () => {
  const x = tensor([1, 2, 3], undefined, { requiresGrad: true });
  const y = x.mul(x);
  throwsWith(() => y.backward(), 'backward', '[3]', 'gradient');
  throwsWith(() => y.backward(ones([2])), 'backward', '[2]', '[3]');
  y.backward(tensor([1, 0.5, -1]));
  assert.equal(await arr(x.grad!), [2, 2, -6]);
});

test('backward on a leaf copies the given gradient (no aliasing)', async () => {
  const x = tensor([1, 2], undefined, { requiresGrad: true });
  const g = tensor([3, 4]);
  x.backward(g);
  g.dispose();
  assert.equal(await arr(x.grad!), [3, 4]);
  // Gradients of two leaves joined by an op are separate tensors.
  const a = tensor([1], undefined, { requiresGrad: true });
  const b = tensor([2], undefined, { requiresGrad: true });
  a.reshape([1, 1])
    .add(b.reshape([1, 1]))
    .sum()
    .backward();
  assert.is.not(a.grad!.storage, b.grad!.storage);
});

test('broadcasting is undone in backward: gradient shapes equal input shapes', async () => {
  const a = make([3, 1], { seed: 10 }).requiresGrad_();
  const b = make([4], { seed: 11 }).requiresGrad_();
  const c = make([], { seed: 12 }).requiresGrad_();
  const d = make([2, 1, 1], { seed: 13 }).requiresGrad_();
  a.mul(b).add(c).sub(d).square().sum().backward();
  assert.equal(a.grad!.shape, [3, 1]);
  assert.equal(b.grad!.shape, [4]);
  assert.equal(c.grad!.shape, []);
  assert.equal(d.grad!.shape, [2, 1, 1]);
  await checkGrad(
    (p, q, r, s) => p.mul(q).add(r).sub(s).square(),
    [make([3, 1], { seed: 10 }), make([4], { seed: 11 }), make([], { seed: 12 }), make([2, 1, 1], { seed: 13 })],
  );
  // Closed form: sum(a + b) over [3, 4]: each a receives 4, each b receives 3.
  const p = ones([3, 1]).requiresGrad_();
  const q = ones([4]).requiresGrad_();
  p.add(q).sum().backward();
  assert.equal(await arr(p.grad!), [4, 4, 4]);
  assert.equal(await arr(q.grad!), [3, 3, 3, 3]);
});

test('requiresGrad_ on a non-leaf throws', () => {
  const x = tensor([1], undefined, { requiresGrad: true });
  throwsWith(() => x.exp().requiresGrad_(), 'requiresGrad_', 'not a leaf');
});

test('deep graphs (5000 ops) backpropagate without stack overflow', async () => {
  const x = tensor([1, 2], undefined, { requiresGrad: true });
  tidy(() => {
    let h = x;
    for (let i = 0; i < 5000; i++) h = h.mul(1.0001);
    h.sum().backward();
  });
  const g = await arr(x.grad!);
  const want = Math.pow(1.0001, 5000);
  for (const v of g) assert.ok(Math.abs(v - want) < 1e-3 * want, `${v} vs ${want}`);
});

test('backward through intermediates that tidy() already disposed throws a clear error', () => {
  const x = tensor([1, 2], undefined, { requiresGrad: true });
  const loss = tidy(() => x.exp().mul(2).sum()); // exp's and mul's results are disposed here
  throwsWith(() => loss.backward(), 'backward', 'disposed', 'tidy');
});

test('backward inside tidy frees every intermediate gradient', async () => {
  const w = make([8, 8], { seed: 20 }).requiresGrad_().keep();
  const x = make([4, 8], { seed: 21 }).keep();
  const step = () =>
    tidy(() => {
      const loss = x.matmul(w).relu().add(x).sigmoid().sum();
      loss.backward();
    });
  step();
  w.zeroGrad();
  await w.toArray();
  const live = stats().bytesLive;
  for (let i = 0; i < 5; i++) step();
  await w.toArray();
  // Only w.grad (8×8 floats, one pool size class) may have appeared.
  assert.ok(stats().bytesLive - live <= 256, `bytesLive grew from ${live} to ${stats().bytesLive}`);
});

test.run();
