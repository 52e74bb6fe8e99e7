// The key encoder starts as an exact, separate copy of the query encoder (cloneModule), and the
// cosine momentum schedule follows its closed form, also inside a MoCo step.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setup, randnSeeded, throwsWith } from '../helpers.ts';
import { cloneModule, momentumAt, momentumUpdate, MomentumEncoder } from '../../src/moco/momentum.ts';
import { MoCo } from '../../src/moco/moco.ts';
import { mapInto } from '../../src/ops/map.ts';
import { Generator } from '../../src/random.ts';
import { nn, noGrad, type Tensor } from '../../src/index.ts';

test.before(setup);

/** Conv + BatchNorm (running mean/var buffers, trained one step so they are not 0/1) + Linear. */
async function trainedNet(): Promise<nn.Module> {
  const net = new nn.Sequential(new nn.Conv2d(1, 3, 3), new nn.BatchNorm2d(3), new nn.ReLU(), new nn.Flatten(), new nn.Linear(12, 2));
  net.train();
  net
    .forward(randnSeeded([2, 1, 4, 4], 5))
    .sum()
    .backward();
  return net;
}

const bits = async (t: Tensor) => Array.from(new Uint32Array((await t.toArray()).buffer));

test('cloneModule: every parameter and buffer bit-equal, in separate storage, same module tree', async () => {
  const net = await trainedNet();
  const copy = cloneModule(net);
  const src = net.stateDict();
  const dst = copy.stateDict();
  assert.equal(Object.keys(dst), Object.keys(src));
  assert.ok(
    Object.keys(src).some((k) => k.includes('running_mean') || k.includes('runningMean')),
    `buffers in ${Object.keys(src)}`,
  );
  for (const [k, t] of Object.entries(src)) {
    assert.is.not(dst[k], t, k);
    assert.is.not(dst[k].storage, t.storage, `${k}: separate storage`);
    assert.equal(await bits(dst[k]), await bits(t), `${k}: bit-equal`);
  }
  assert.is(copy.constructor, net.constructor);
  // Writing into the original leaves the copy as it was.
  const w = src[Object.keys(src)[0]];
  const before = await bits(dst[Object.keys(src)[0]]);
  noGrad(() => mapInto(w, [w], 'x0 + 1.0', 'test.bump'));
  assert.equal(await bits(dst[Object.keys(src)[0]]), before);
});

test('MomentumEncoder: the key starts bit-equal to the query, takes no gradient, and update(m) is the EMA', async () => {
  const net = await trainedNet();
  const enc = new MomentumEncoder(net);
  const q = [...enc.query.namedParameters()];
  const k = [...enc.key.namedParameters()];
  assert.is(k.length, q.length);
  for (const [i, [name, p]] of k.entries()) {
    assert.is(p.requiresGrad, false, `${name} of the key`);
    assert.is(q[i][1].requiresGrad, true, `${name} of the query`);
    assert.equal(await bits(p), await bits(q[i][1]), `${name}: bit-equal at construction`);
  }
  for (const [name, b] of enc.key.namedBuffers()) {
    const qb = [...enc.query.namedBuffers()].find(([n]) => n === name)![1];
    assert.equal(await bits(b), await bits(qb), `buffer ${name}`);
  }
  // Nothing of the key encoder records a graph: its output has no gradient to give.
  assert.throws(
    () =>
      enc.key
        .forward(randnSeeded([2, 1, 4, 4], 6))
        .sum()
        .backward(),
    /does not require grad/,
  );
  for (const [name, p] of k) assert.ok(!p.grad, `${name} got a gradient`);
  // Move the query, then update: θ_k ← m θ_k + (1 − m) θ_q, against float64.
  const [name0, qp] = q[0];
  noGrad(() => mapInto(qp, [qp], 'x0 * 2.0 + 0.5', 'test.move'));
  const [k0, q0] = [await k[0][1].toArray(), await qp.toArray()];
  enc.update(0.9);
  const got = await k[0][1].toArray();
  got.forEach((v, i) => assert.ok(Math.abs(v - (0.9 * k0[i] + 0.1 * q0[i])) < 1e-6, `${name0}[${i}]`));
});

test('momentumAt: cosine from m to 1 as 1 − (1 − m)(cos πp + 1)/2 = m + (1 − m) sin²(πp/2), clamped; constant is m', () => {
  for (const m of [0.9, 0.99, 0.996]) {
    for (const p of [0, 0.1, 0.25, 0.5, 0.75, 0.9, 1]) {
      const closed = m + (1 - m) * Math.sin((Math.PI * p) / 2) ** 2;
      assert.ok(Math.abs(momentumAt(m, p, 'cosine') - closed) < 1e-15, `m ${m} p ${p}: ${momentumAt(m, p, 'cosine')} vs ${closed}`);
      assert.is(momentumAt(m, p, 'constant'), m);
    }
    assert.is(momentumAt(m, 0, 'cosine'), m);
    assert.is(momentumAt(m, 1, 'cosine'), 1);
    assert.is(momentumAt(m, -0.5, 'cosine'), m);
    assert.is(momentumAt(m, 1.5, 'cosine'), 1);
  }
  assert.ok(Math.abs(momentumAt(0.99, 0.5, 'cosine') - 0.995) < 1e-15);
});

test("MoCo with momentumSchedule 'cosine': the step's key update uses momentumAt(m, progress)", async () => {
  const encoder = Object.assign(new nn.Sequential(new nn.Flatten(), new nn.Linear(16, 6)), { featureDim: 6 });
  const model = new MoCo({
    encoder,
    dim: 4,
    K: 8,
    m: 0.9,
    T: 0.5,
    mlp: false,
    shuffleBN: false,
    momentumSchedule: 'cosine',
    generator: new Generator(4),
  });
  model.train();
  const key = [...model.momentum.key.namedParameters()][0][1];
  const query = [...model.momentum.query.namedParameters()][0][1];
  noGrad(() => mapInto(query, [query], 'x0 * 1.5 - 0.25', 'test.move'));
  const [k0, q0] = [await key.toArray(), await query.toArray()];
  const progress = 0.3;
  model.step(randnSeeded([4, 1, 4, 4], 7), randnSeeded([4, 1, 4, 4], 8), progress);
  const m = 0.9 + 0.1 * Math.sin((Math.PI * progress) / 2) ** 2;
  const got = await key.toArray();
  got.forEach((v, i) => assert.ok(Math.abs(v - (m * k0[i] + (1 - m) * q0[i])) < 1e-6, `[${i}] ${v} vs ${m * k0[i] + (1 - m) * q0[i]}`));
});

test('cloneModule: tensors in arrays, Maps and plain objects are copied; a tensor held twice stays one tensor; other objects are shared', async () => {
  const gen = new Generator(3);
  class Holder extends nn.Module {
    shared = randnSeeded([3], 11);
    list = [randnSeeded([2], 12), 5];
    byName = new Map([['a', randnSeeded([2], 13)]]);
    plain = { inner: { t: randnSeeded([2], 14) }, n: 7 };
    again = this.shared;
    gen = gen;
    none = null;
    missing = undefined;
    override forward(x: Tensor): Tensor {
      return x;
    }
  }
  const h = new Holder();
  const c = cloneModule(h);
  for (const [a, b] of [
    [h.shared, c.shared],
    [h.list[0], c.list[0]],
    [h.byName.get('a'), c.byName.get('a')],
    [h.plain.inner.t, c.plain.inner.t],
  ] as Tensor[][]) {
    assert.is.not(b, a);
    assert.is.not(b.storage, a.storage);
    assert.equal(await bits(b), await bits(a));
  }
  assert.is(c.again, c.shared, 'a tensor referenced twice is copied once');
  assert.is(c.list[1], 5);
  assert.is(c.plain.n, 7);
  assert.is.not(c.plain, h.plain);
  assert.ok(c.byName instanceof Map && c.byName !== h.byName);
  assert.is(c.gen, gen, 'a generator is shared, not copied');
  assert.is(c.none, null);
  assert.ok('missing' in c && c.missing === undefined);
  assert.ok(c instanceof Holder);
});

test('momentumUpdate: m = 0 copies the query, m = 1 keeps the key; bad momentum or mismatched encoders are refused', async () => {
  const q = new nn.Linear(3, 2);
  const k = cloneModule(q);
  const [wq] = q.parameters();
  const [wk] = k.parameters();
  noGrad(() => mapInto(wq, [wq], 'x0 + 1.0', 'test.move'));
  const moved = await bits(wq);
  const before = await bits(wk);
  momentumUpdate(k, q, 1);
  assert.equal(await bits(wk), before, 'm = 1');
  momentumUpdate(k, q, 0);
  assert.equal(await bits(wk), moved, 'm = 0');
  for (const m of [-0.1, 1.5, NaN]) throwsWith(() => momentumUpdate(k, q, m), 'momentum must be in [0, 1]', `got ${m}`);
  const enc = new MomentumEncoder(new nn.Linear(2, 2));
  for (const m of [-0.1, 1.5]) throwsWith(() => enc.update(m), 'momentum must be in [0, 1]');
  enc.update(0);
  enc.update(1); // both ends of [0, 1] are allowed
  throwsWith(() => momentumUpdate(new nn.Linear(3, 2, { bias: false }), q, 0.9), 'key encoder has 1 parameters, query encoder 2');
  throwsWith(() => momentumUpdate(new nn.Linear(4, 2), q, 0.9), "parameter 'weight' has shape [2, 4] in the key encoder but [2, 3]");
  const renamed = new nn.Sequential(new nn.Linear(3, 2));
  throwsWith(() => momentumUpdate(renamed, q, 0.9), "parameter '0.weight' of the key encoder pairs with 'weight'");
});

test.run();
