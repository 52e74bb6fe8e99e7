// The two other contrastive mechanisms of MoCo's comparison (§4.1, Fig. 3): the memory bank
// (Wu et al. 2018) and end-to-end (in-batch negatives, keys with gradient), each against a float64
// computation on the host, plus the errors a caller can hit.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setup, randnSeeded, checkGrad, checkForward, assertClose, throwsWith } from '../helpers.ts';
import { MemoryBank } from '../../src/moco/memory-bank.ts';
import { inBatchInfoNCE } from '../../src/moco/losses.ts';
import { MoCo } from '../../src/moco/moco.ts';
import { Generator } from '../../src/random.ts';
import { mapInto } from '../../src/ops/map.ts';
import { Tensor, nn, noGrad } from '../../src/index.ts';

test.before(setup);

const unit = (x: Tensor) => x.div(x.square().sum(1, true).sqrt());
const rowsOf = (a: ArrayLike<number>, dim: number) =>
  Array.from({ length: a.length / dim }, (_, r) => Array.from(a).slice(r * dim, (r + 1) * dim));
const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);

/** float64 reference of the bank update, applied in batch order. */
function refUpdate(bank: number[][], idx: number[], q: number[][], m: number): void {
  idx.forEach((i, j) => {
    const v = bank[i].map((b, d) => m * b + (1 - m) * q[j][d]);
    const n = Math.max(Math.sqrt(dot(v, v)), 1e-12);
    bank[i] = v.map((x) => x / n);
  });
}

/** float64 cross-entropy of logit rows against the given target columns; returns loss and accuracy. */
function refCE(rows: number[][], target: (i: number) => number): { loss: number; acc: number } {
  let loss = 0;
  let correct = 0;
  rows.forEach((row, i) => {
    const m = Math.max(...row);
    loss += m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0)) - row[target(i)];
    if (row.indexOf(m) === target(i)) correct++;
  });
  return { loss: loss / rows.length, acc: correct / rows.length };
}

test('MemoryBank: unit-norm random rows, reproducible from the generator', async () => {
  const a = await new MemoryBank({ size: 9, dim: 5, generator: new Generator(4) }).snapshot();
  const b = await new MemoryBank({ size: 9, dim: 5, generator: new Generator(4) }).snapshot();
  const c = await new MemoryBank({ size: 9, dim: 5, generator: new Generator(5) }).snapshot();
  assert.equal(Array.from(a), Array.from(b));
  assert.not.equal(Array.from(a), Array.from(c));
  for (const row of rowsOf(a, 5)) assert.ok(Math.abs(Math.sqrt(dot(row, row)) - 1) < 1e-5);
});

for (const m of [0.5, 0.3, 0]) {
  test(`MemoryBank.update (momentum ${m}) equals a float64 reference over repeated updates, repeated indices included`, async () => {
    const [N, D] = [11, 6];
    const bank = new MemoryBank({ size: N, dim: D, generator: new Generator(1) });
    const ref = rowsOf(await bank.snapshot(), D);
    const batches = [
      [3, 0, 10, 7],
      [7, 2, 3, 9],
      [5, 5, 1, 5],
      [10, 4, 0, 8],
    ]; // the third repeats row 5 thrice
    for (const [n, idx] of batches.entries()) {
      const q = randnSeeded([idx.length, D], 20 + n); // not normalised: the update renormalises
      const qh = rowsOf(await q.toArray(), D);
      bank.update(idx, q, m);
      refUpdate(ref, idx, qh, m);
      assertClose(await bank.snapshot(), ref.flat(), 2e-6, `after update ${n + 1}`);
    }
    bank.dispose();
  });
}

test('MemoryBank.update reads q through strides (a transposed view)', async () => {
  const bank = new MemoryBank({ size: 4, dim: 3, generator: new Generator(2) });
  const ref = rowsOf(await bank.snapshot(), 3);
  const q = randnSeeded([3, 2], 6).transpose(0, 1); // [2, 3], non-contiguous
  const qh = rowsOf(await q.contiguous().toArray(), 3);
  bank.update([2, 0], q);
  refUpdate(ref, [2, 0], qh, 0.5);
  assertClose(await bank.snapshot(), ref.flat(), 2e-6);
});

test('MemoryBank.sample: K valid indices, reproducible with a seed, rows equal the bank rows', async () => {
  const [N, D, K] = [7, 4, 20];
  const b1 = new MemoryBank({ size: N, dim: D, generator: new Generator(9) });
  const b2 = new MemoryBank({ size: N, dim: D, generator: new Generator(9) });
  const s1 = b1.sample(K);
  const i1 = Array.from(b1.lastSample!);
  b2.sample(K);
  assert.equal(Array.from(b2.lastSample!), i1, 'same seed, same draws');
  assert.is(i1.length, K);
  assert.ok(i1.every((i) => Number.isInteger(i) && i >= 0 && i < N));
  assert.ok(new Set(i1).size > 1, 'not a constant draw');
  // Uniform with replacement: the generator's next K int(N) draws after the initialisation.
  const g = new Generator(9);
  new MemoryBank({ size: N, dim: D, generator: g }).dispose();
  assert.equal(
    i1,
    Array.from({ length: K }, () => g.int(N)),
  );
  const bankRows = rowsOf(await b1.snapshot(), D);
  assertClose(
    await s1.toArray(),
    i1.flatMap((i) => bankRows[i]),
    0,
  );
  assert.equal(s1.shape, [K, D]);
  assert.is(s1.requiresGrad, false);
});

test('MemoryBank: out-of-range indices and wrong shapes are rejected with clear errors', () => {
  const bank = new MemoryBank({ size: 5, dim: 3 });
  throwsWith(() => bank.update([1, 5], randnSeeded([2, 3])), 'MemoryBank.update: index 5 (position 1) is out of range 0..4');
  throwsWith(() => bank.update([1, -1], randnSeeded([2, 3])), 'out of range 0..4');
  throwsWith(() => bank.update([1], randnSeeded([2, 3])), 'q must have shape [1, 3]');
  throwsWith(() => bank.rows([0.5]), 'index 0.5');
  throwsWith(() => bank.sample(0), 'K must be a positive integer');
  throwsWith(() => new MemoryBank({ size: 0, dim: 3 }), 'size (number of training images) and dim must be positive integers');
});

test('inBatchInfoNCE (end-to-end) equals float64 CE(q·kᵀ/T, diagonal); accuracy = argmax on the diagonal', async () => {
  const [N, D, T] = [7, 5, 0.2];
  const q = unit(randnSeeded([N, D], 31));
  // k close to q for some rows so that the accuracy is neither 0 nor 1
  const k = unit(q.add(randnSeeded([N, D], 32).mul(0.9)));
  const out = inBatchInfoNCE(q, k, T);
  const [qh, kh] = [rowsOf(await q.toArray(), D), rowsOf(await k.toArray(), D)];
  const logits = qh.map((qi) => kh.map((kj) => dot(qi, kj) / T));
  const ref = refCE(logits, (i) => i);
  assert.equal(out.logits.shape, [N, N]);
  assertClose(await out.logits.toArray(), logits.flat(), 1e-4);
  assert.ok(Math.abs((await out.loss.item()) - ref.loss) < 1e-5, `loss ${await out.loss.item()} vs ${ref.loss}`);
  assert.ok(Math.abs((await out.accuracy.item()) - ref.acc) < 1e-6, `accuracy ${await out.accuracy.item()} vs ${ref.acc}`);
  assert.ok(ref.acc > 0 && ref.acc < 1, `test data should give a partial accuracy (got ${ref.acc})`);
});

test('inBatchInfoNCE: gradients w.r.t. q and k match finite differences', async () => {
  await checkGrad((q, k) => inBatchInfoNCE(q, k, 0.5).loss, [randnSeeded([4, 3], 41), randnSeeded([4, 3], 42)]);
});

/** A tiny encoder whose ops all have float64 references: flatten → linear → BatchNorm1d. */
function tinyEncoder(): nn.Module & { featureDim: number } {
  return Object.assign(new nn.Sequential(new nn.Flatten(), new nn.Linear(16, 6), new nn.BatchNorm1d(6)), { featureDim: 6 });
}

test('end-to-end MoCo: the gradient reaches both views (gradcheck through the query encoder, shuffled keys)', async () => {
  const model = new MoCo({
    encoder: tinyEncoder(),
    dim: 4,
    K: 8,
    T: 0.5,
    mlp: false,
    mechanism: 'end-to-end',
    generator: new Generator(3),
  });
  model.train();
  const xq = randnSeeded([4, 1, 4, 4], 51);
  const xk = randnSeeded([4, 1, 4, 4], 52);
  await checkGrad((a, b) => model.step(a, b).loss, [xq, xk]);
  assert.ok(model.lastPermutation !== null, 'shuffle BN shuffled the key batch');
  // Both views get a non-zero gradient; in queue mode the key view gets none.
  for (const [mechanism, keyGrad] of [
    ['end-to-end', true],
    ['queue', false],
  ] as const) {
    const mm = new MoCo({ encoder: tinyEncoder(), dim: 4, K: 8, T: 0.5, mlp: false, mechanism, generator: new Generator(3) });
    const [a, b] = [xq.detach().requiresGrad_(true), xk.detach().requiresGrad_(true)];
    mm.step(a, b).loss.backward();
    const ga = await a.grad!.toArray();
    assert.ok(
      ga.some((v) => Math.abs(v) > 1e-6),
      `${mechanism}: query view gets a gradient`,
    );
    const gb = b.grad ? await b.grad.toArray() : new Float32Array(1);
    assert.is(
      gb.some((v) => Math.abs(v) > 1e-6),
      keyGrad,
      `${mechanism}: key view gradient ${keyGrad ? 'present' : 'absent'}`,
    );
  }
});

test("end-to-end MoCo step: the loss equals CE over the query encoder's own embeddings; key encoder and queue untouched", async () => {
  const model = new MoCo({
    encoder: tinyEncoder(),
    dim: 4,
    K: 8,
    T: 0.3,
    mlp: false,
    shuffleBN: false,
    mechanism: 'end-to-end',
    m: 0.5,
    generator: new Generator(3),
  });
  model.train();
  const xq = randnSeeded([5, 1, 4, 4], 61);
  const xk = randnSeeded([5, 1, 4, 4], 62);
  const keyBefore = await Promise.all(Object.values(model.momentum.key.stateDict()).map((t) => t.toArray()));
  const queueBefore = await model.queue.snapshot();
  // Perturb the query encoder so that it differs from the key encoder (a momentum update would show).
  noGrad(() => {
    for (const p of model.parameters()) mapInto(p, [p], 'x0 * 1.1 + 0.01', 'perturb');
  });
  const [q, k] = noGrad(() => [model.encoderQ.forward(xq), model.encoderQ.forward(xk)]);
  const out = model.step(xq, xk);
  const [qh, kh] = [rowsOf(await q.toArray(), 4), rowsOf(await k.toArray(), 4)];
  const ref = refCE(
    qh.map((qi) => kh.map((kj) => dot(qi, kj) / 0.3)),
    (i) => i,
  );
  assert.ok(Math.abs((await out.loss.item()) - ref.loss) < 1e-5, `loss ${await out.loss.item()} vs ${ref.loss}`);
  assert.ok(Math.abs((await out.accuracy.item()) - ref.acc) < 1e-6);
  const keyAfter = await Promise.all(Object.values(model.momentum.key.stateDict()).map((t) => t.toArray()));
  keyAfter.forEach((a, i) => assert.equal(Array.from(a), Array.from(keyBefore[i])));
  assert.equal(Array.from(await model.queue.snapshot()), Array.from(queueBefore));
  assert.is(model.queue.ptr, 0);
});

test('memory-bank MoCo step: logits and loss equal a float64 reference; the bank is updated after the loss', async () => {
  const [N, B, D, K, T] = [10, 4, 4, 6, 0.25];
  const model = new MoCo({
    encoder: tinyEncoder(),
    dim: D,
    K,
    T,
    mlp: false,
    mechanism: 'memory-bank',
    bankSize: N,
    generator: new Generator(8),
  });
  model.train();
  const bank = model.memoryBank!;
  const xq = randnSeeded([B, 1, 4, 4], 71);
  const idx = [6, 1, 9, 3];
  const bankBefore = rowsOf(await bank.snapshot(), D);
  const keyBefore = await Promise.all(Object.values(model.momentum.key.stateDict()).map((t) => t.toArray()));
  const q = noGrad(() => model.encoderQ.forward(xq));
  const out = model.step(xq, randnSeeded([B, 1, 4, 4], 72), 0, Int32Array.from(idx));
  const sampled = Array.from(bank.lastSample!);
  assert.is(sampled.length, K);
  const qh = rowsOf(await q.toArray(), D);
  const logits = qh.map((qi, i) => [dot(qi, bankBefore[idx[i]]) / T, ...sampled.map((s) => dot(qi, bankBefore[s]) / T)]);
  const ref = refCE(logits, () => 0);
  assert.equal(out.logits!.shape, [B, 1 + K]);
  assertClose(await out.logits!.toArray(), logits.flat(), 1e-4, 'logits');
  assert.ok(Math.abs((await out.loss.item()) - ref.loss) < 1e-5, `loss ${await out.loss.item()} vs ${ref.loss}`);
  assert.ok(Math.abs((await out.accuracy.item()) - ref.acc) < 1e-6);
  // The bank now holds normalize(0.5·old + 0.5·q) in the batch's rows, the others unchanged.
  refUpdate(bankBefore, idx, qh, 0.5);
  assertClose(await bank.snapshot(), bankBefore.flat(), 2e-6, 'bank after the step');
  // Backward after the update still uses the pre-update rows: grad of the loss w.r.t. q is finite
  // and the key encoder was neither used nor momentum-updated.
  out.loss.backward();
  const keyAfter = await Promise.all(Object.values(model.momentum.key.stateDict()).map((t) => t.toArray()));
  keyAfter.forEach((a, i) => assert.equal(Array.from(a), Array.from(keyBefore[i])));
});

test('memory-bank MoCo step: gradient w.r.t. the query view matches finite differences', async () => {
  const model = new MoCo({
    encoder: tinyEncoder(),
    dim: 4,
    K: 5,
    T: 0.5,
    mlp: false,
    mechanism: 'memory-bank',
    bankSize: 8,
    generator: new Generator(2),
  });
  model.train();
  await checkGrad((a) => model.step(a, a, 0, [0, 1, 2, 3]).loss, [randnSeeded([4, 1, 4, 4], 81)]);
});

test('mechanism errors: missing or out-of-range indices, no bankSize, unsupported combinations', () => {
  const model = new MoCo({ encoder: tinyEncoder(), dim: 4, K: 5, mlp: false, mechanism: 'memory-bank', bankSize: 8 });
  const x = randnSeeded([2, 1, 4, 4], 1);
  throwsWith(() => model.step(x, x), "mechanism 'memory-bank' needs the batch's dataset indices");
  throwsWith(() => model.step(x, x, 0, [0, 8]), 'dataset index 8 is out of range 0..7');
  throwsWith(() => model.step(x, x, 0, [0]), '1 dataset indices for a batch of 2 images');
  throwsWith(() => new MoCo({ encoder: tinyEncoder(), mechanism: 'memory-bank' }), 'needs bankSize');
  throwsWith(
    () => new MoCo({ encoder: tinyEncoder(), mechanism: 'end-to-end', symmetric: true }),
    'supports only the non-symmetric',
    "got loss 'infonce', symmetric",
  );
  throwsWith(
    () => new MoCo({ encoder: tinyEncoder(), mechanism: 'memory-bank', bankSize: 8, loss: 'ntxent' }),
    "supports only the non-symmetric InfoNCE loss (got loss 'ntxent')",
  );
  throwsWith(() => new MoCo({ encoder: tinyEncoder(), mechanism: 'bank' as 'queue' }), "unknown mechanism 'bank'");
});

for (const [loss, symmetric] of [
  ['ntxent', false],
  ['dcl', false],
  ['infonce', true],
  ['ntxent', true],
] as const) {
  test(`queue MoCo, loss '${loss}'${symmetric ? ', symmetric' : ''}: the step's loss and gradient vs the float64 replay`, async () => {
    const model = new MoCo({ encoder: tinyEncoder(), dim: 4, K: 8, T: 0.5, mlp: false, loss, symmetric, generator: new Generator(9) });
    model.train();
    const [xq, xk] = [randnSeeded([4, 1, 4, 4], 91), randnSeeded([4, 1, 4, 4], 92)];
    await checkForward((a, b) => model.step(a, b).loss, [xq, xk], 1e-5, `${loss} symmetric=${symmetric}`);
    await checkGrad((a, b) => model.step(a, b).loss, [xq, xk], {}, `${loss} symmetric=${symmetric}`);
  });
}

test.run();
