// fuse(fn): one kernel for an elementwise chain. Checked against the unfused eager chain (values
// and gradients of every input, within 1e-5), against the float64 reference replay of the 'fused'
// node (compareForward) and float64 finite differences (gradcheck).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setup, randnSeeded, nonContiguous, checkForward, checkGrad, assertClose, throwsWith, kernelsOf } from '../helpers.ts';
import { fuse, stats, noGrad, tensor, relu, Tensor } from '../../src/index.ts';
import { wgslFloat } from '../../src/ops/fuse.ts';

test.before(setup);

type Fn = (...xs: Tensor[]) => Tensor;

/**
 * Fused vs eager values, then gradients of every input for a random (non-uniform) output weight.
 * `kernel`: the one map kernel the fused forward must dispatch (its vec4 or strided path).
 */
async function matchesEager(fn: Fn, inputs: Tensor[], what: string, kernel?: 'elementwise_vec4' | 'elementwise'): Promise<void> {
  const f = fuse(fn);
  const eager = fn(...inputs);
  let fused = eager;
  const kernels = await kernelsOf(() => (fused = f(...inputs)));
  if (kernel) assert.equal(kernels, [kernel], `${what}: kernels dispatched`);
  assert.equal(fused.shape, eager.shape, `${what}: shape`);
  assertClose(await fused.toArray(), await eager.toArray(), 1e-5, `${what} forward`);
  const leaves = inputs.map((x) => x.detach().contiguous().detach());
  leaves.forEach((x) => (x.requiresGrad = true));
  const w = randnSeeded(eager.shape.length ? [...eager.shape] : [1], 99).reshape([...eager.shape]);
  const grads = async (g: Fn) => {
    leaves.forEach((x) => (x.grad = null));
    g(...leaves)
      .mul(w)
      .sum()
      .backward();
    return Promise.all(leaves.map(async (x) => (x.grad ? x.grad.toArray() : null)));
  };
  const ge = await grads(fn);
  const gf = await grads(f);
  ge.forEach((e, k) => {
    assert.ok((e === null) === (gf[k] === null), `${what}: input ${k} got a gradient in only one of the paths`);
    if (e) assertClose(gf[k]!, e, 1e-5, `${what} grad of input ${k}`);
  });
}

const chain: Fn = (x, y) => x.mul(y).add(1).relu().sqrt();

test('forward and gradients equal the eager chain: broadcasting, rank 0, views, vec4 and strided sizes', async () => {
  await matchesEager(chain, [randnSeeded([3, 1, 5], 1), randnSeeded([4, 5], 2)], 'broadcast [3,1,5]x[4,5]');
  await matchesEager(chain, [randnSeeded([], 3), randnSeeded([], 4)], 'rank 0');
  await matchesEager(chain, [randnSeeded([], 3), randnSeeded([2, 3], 4)], 'rank 0 x [2,3]');
  await matchesEager(chain, [nonContiguous([6, 7], 5), randnSeeded([6, 7], 6)], 'non-contiguous');
  await matchesEager(chain, [randnSeeded([8, 16], 7), randnSeeded([8, 16], 8)], 'size 128 (vec4 path)', 'elementwise_vec4');
  await matchesEager(chain, [randnSeeded([7, 9], 9), randnSeeded([7, 9], 10)], 'size 63 (strided path)', 'elementwise');
});

test('every supported op, forward and gradients, against eager and float64', async () => {
  const pos = randnSeeded([5, 8], 11).abs().add(0.5);
  const x = randnSeeded([5, 8], 12);
  const y = randnSeeded([8], 13);
  const fns: [string, Fn][] = [
    ['unary', (a) => a.exp().sub(a.tanh()).add(a.sigmoid().mul(a.abs())).sub(a.neg().square())],
    ['log/sqrt/reciprocal', (a) => a.log().add(a.sqrt()).add(a.reciprocal())],
    ['binary tensors', (a, b) => a.div(b.abs().add(1)).sub(b).maximum(b.mul(0.3)).minimum(a.add(b))],
    ['scalars', (a) => a.maximum(-0.2).minimum(0.7).mul(3).div(7).sub(0.25).add(1e-3)],
    ['pow', (a) => a.pow(3).add(a.abs().add(0.5).pow(0.5)).add(a.pow(2)).add(a.pow(-1)).add(a.pow(0))],
    ['comparisons', (a, b) => a.gt(b).add(a.lt(0.1)).add(a.ge(b)).add(a.le(0.3)).add(a.eq(b)).mul(a)],
  ];
  for (const [what, fn] of fns) {
    const inputs = what.startsWith('log') ? [pos] : [x, y].slice(0, fn.length);
    await matchesEager(fn, inputs, what);
    const f = fuse(fn);
    await checkForward(f, inputs, 1e-5, what);
    if (what !== 'comparisons')
      await checkGrad(
        f,
        inputs.map((t) => t.detach()),
        {},
        what,
      );
  }
});

test('gradcheck (float64 finite differences) with broadcasting and three inputs', async () => {
  const f = fuse((a, b, c) => a.mul(b).add(c.sigmoid()).tanh().mul(c));
  const inputs = [randnSeeded([2, 1, 3], 21), randnSeeded([4, 3], 22), randnSeeded([3], 23)];
  await checkForward(f, inputs);
  await checkGrad(f, inputs);
  await matchesEager((a, b, c) => a.mul(b).add(c.sigmoid()).tanh().mul(c), inputs, 'three inputs');
});

test('4 to 7 inputs: forward and gradients vs eager and float64, vec4 and strided (broadcast, views) paths', async () => {
  const fn: Fn = (a, b, c, d, e, f, g) => a.mul(b).add(c.sigmoid()).sub(d.mul(e)).tanh().mul(f.add(2)).add(g.square());
  for (const n of [4, 5, 7]) {
    const f = (...xs: Tensor[]) => fn(...xs, ...xs).mul(1); // repeats inputs to fill fn's 7 arguments
    const same = Array.from({ length: n }, (_, k) => randnSeeded([8, 16], 40 + k));
    await matchesEager(f, same, `${n} inputs, size 128 (vec4 path)`, 'elementwise_vec4');
    const mixed = [
      nonContiguous([6, 5], 50),
      randnSeeded([5], 51),
      randnSeeded([6, 1], 52),
      ...Array.from({ length: n - 3 }, (_, k) => randnSeeded([2, 6, 5], 53 + k)),
    ];
    await matchesEager(f, mixed, `${n} inputs, broadcast and transposed (strided path)`, 'elementwise');
    await checkForward(fuse(f), mixed, 1e-5, `${n} inputs`);
    await checkGrad(
      fuse(f),
      mixed.map((t) => t.detach()),
      {},
      `${n} inputs`,
    );
  }
});

test('repeated input: x·x + x, and the same tensor passed twice', async () => {
  const x = randnSeeded([10], 31);
  await matchesEager((a) => a.mul(a).add(a), [x], 'x*x + x');
  await checkGrad(
    fuse((a) => a.mul(a).add(a)),
    [x],
  );
  const f = fuse((a, b) => a.mul(b).sub(b));
  const leaf = x.detach();
  leaf.requiresGrad = true;
  f(leaf, leaf).sum().backward();
  const xs = await x.toArray();
  assertClose(
    await leaf.grad!.toArray(),
    Array.from(xs, (v) => 2 * v - 1),
    1e-5,
    'd/dx (x*x - x)',
  );
});

test('an unused argument gets no gradient; a long chain (24 ops) still compiles and matches', async () => {
  const x = randnSeeded([4, 6], 61);
  const y = randnSeeded([5], 62); // does not even broadcast with x: unused arguments are not bound
  const f = fuse((a, b) => b.exp().mul(2).sub(b.square()));
  const b = y.detach();
  b.requiresGrad = true;
  const a = x.detach();
  a.requiresGrad = true;
  f(a, b).sum().backward();
  assert.is(a.grad, null);
  const ys = await y.toArray();
  assertClose(
    await b.grad!.toArray(),
    Array.from(ys, (v) => 2 * Math.exp(v) - 2 * v),
    1e-5,
    'd/db',
  );
  const long: Fn = (a) => {
    let v = a;
    for (let i = 0; i < 6; i++) v = v.sigmoid().mul(1.5).tanh().add(a);
    return v;
  };
  await matchesEager(long, [x], '24-op chain');
});

test('numbers as the first operand (1 - x, 3 / x forms) and scalar literals', async () => {
  const x = randnSeeded([9], 41).abs().add(0.5);
  await matchesEager((a) => a.neg().add(1).mul(a.reciprocal().mul(3)), [x], '(1 - x) * (3 / x)');
  // -0, tiny, huge, integers above 2^24: the f32 value a uniform would hold.
  const one = tensor([1, 2]);
  const zero = await fuse((a) => a.mul(-0))(one).toArray();
  assert.ok(Object.is(zero[0], -0) && Object.is(zero[1], -0), `x * -0 gives -0, got ${zero}`);
  assertClose(await fuse((a) => a.mul(3e38))(tensor([1])).toArray(), [Math.fround(3e38)], 1e-7, 'huge');
  assert.is((await fuse((a) => a.mul(1e-30))(tensor([1e10])).toArray())[0], Math.fround(Math.fround(1e-30) * 1e10));
  assert.is((await fuse((a) => a.add(16777217))(tensor([0])).toArray())[0], 16777216);
  assert.is((await fuse((a) => a.mul(0.1))(tensor([10])).toArray())[0], Math.fround(Math.fround(0.1) * 10));
  assert.is(wgslFloat(3), '3.0');
  assert.is(wgslFloat(-0), '(-p.b)');
  assert.is(wgslFloat(-2.5), '(-2.5)');
  assert.is(wgslFloat(1e-7), String(Math.fround(1e-7)));
  throwsWith(() => fuse((a) => a.mul(1e39))(tensor([1])), '1e+39', 'finite f32');
});

test('errors: non-elementwise ops, free functions, captured tensors, tensor exponents, too many inputs', () => {
  const x = tensor([1, 2, 3]);
  throwsWith(() => fuse((a) => a.mul(2).sum())(x), "'sum'", 'only elementwise');
  throwsWith(() => fuse((a) => a.reshape([3, 1]))(x), "'reshape'");
  throwsWith(() => fuse((a) => a.matmul(a))(x), "'matmul'");
  throwsWith(() => fuse((a) => relu(a))(x), 'fuse', 'x.relu()');
  throwsWith(() => fuse((a) => a.mul(x))(x), 'not an argument');
  throwsWith(() => fuse((a, b) => a.pow(b))(x, x), 'tensor exponent');
  throwsWith(() => fuse((a) => a)(x), 'unchanged');
  const pow65536 = (a: Tensor) => {
    let y = a;
    for (let i = 0; i < 16; i++) y = y.mul(y); // each level inlines the previous twice
    return y;
  };
  throwsWith(() => fuse(pow65536)(x), 'characters', 'split fn');
  const eight = fuse((a, b, c, d, e, f, g, h) => a.add(b).add(c).add(d).add(e).add(f).add(g).add(h));
  throwsWith(() => eight(x, x, x, x, x, x, x, x), '8 tensors', 'at most 7', 'storage buffers');
  // More than 3 inputs: the broadcast shapes must merge to rank ≤ 4.
  const r5 = [randnSeeded([2, 1, 2, 1, 2], 1), randnSeeded([1, 2, 1, 2, 1], 2), randnSeeded([2, 2, 2, 2, 2], 3)];
  throwsWith(() => fuse((a, b, c, d) => a.add(b).mul(c).sub(d))(...r5, r5[0].T), 'rank 5', 'rank ≤ 4');
  throwsWith(() => fuse((a, b) => a.add(b))(x, tensor([1, 2])), 'fuse: add', '[3]', '[2]');
});

test('one forward dispatch instead of one per op; traced once per shape; no node under noGrad', async () => {
  let traces = 0;
  const fn: Fn = (a, b) => {
    traces++;
    return a.mul(b).add(1).relu().sqrt();
  };
  const f = fuse(fn);
  const a = randnSeeded([64], 51);
  const b = randnSeeded([64], 52);
  let before = stats().dispatches;
  const eager = noGrad(() => a.mul(b).add(1).relu().sqrt());
  const eagerDispatches = stats().dispatches - before;
  before = stats().dispatches;
  const fused = f(a, b);
  assert.is(stats().dispatches - before, 1);
  assert.is(eagerDispatches, 4);
  assertClose(await fused.toArray(), await eager.toArray());
  f(a, b);
  f(randnSeeded([3, 64], 53), b);
  assert.is(traces, 2, 'retraced only for a new shape');
  const leaf = a.detach();
  leaf.requiresGrad = true;
  assert.is(noGrad(() => f(leaf, b)).node, null);
  const y = f(leaf, b);
  assert.is(y.node?.op, 'fused');
  before = stats().dispatches;
  y.backward(randnSeeded([64], 54));
  assert.is(stats().dispatches - before, 1, 'one fused backward dispatch for the one input that needs a gradient');
});

test.run();
