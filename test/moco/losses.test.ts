import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setup, randnSeeded, checkGrad } from '../helpers.ts';
import { infoNCE, ntXent, dcl } from '../../src/moco/losses.ts';
import { KeyQueue } from '../../src/moco/queue.ts';
import { tensor, Tensor } from '../../src/index.ts';
import { Generator } from '../../src/random.ts';

test.before(setup);

const unit = (x: Tensor) => x.div(x.square().sum(1, true).sqrt());

function host2d(a: Float32Array, rows: number, cols: number): number[][] {
  return Array.from({ length: rows }, (_, r) => Array.from(a.subarray(r * cols, (r + 1) * cols)));
}

test('infoNCE equals a float64 reference on random inputs', async () => {
  const [N, D, K, T] = [6, 8, 11, 0.07];
  const q = unit(randnSeeded([N, D], 1));
  const k = unit(randnSeeded([N, D], 2));
  const queue = unit(randnSeeded([K, D], 3));
  const out = infoNCE(q, k, queue, T);
  const [qh, kh, Qh] = [host2d(await q.toArray(), N, D), host2d(await k.toArray(), N, D), host2d(await queue.toArray(), K, D)];
  const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);
  let loss = 0;
  let correct = 0;
  const logitsRef: number[] = [];
  for (let i = 0; i < N; i++) {
    const row = [dot(qh[i], kh[i]) / T, ...Qh.map((n) => dot(qh[i], n) / T)];
    logitsRef.push(...row);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    loss += lse - row[0];
    if (row.indexOf(m) === 0) correct++;
  }
  loss /= N;
  assert.equal(out.logits.shape, [N, 1 + K]);
  const lg = await out.logits.toArray();
  lg.forEach((v, i) => assert.ok(Math.abs(v - logitsRef[i]) < 1e-4, `logit ${i}: ${v} vs ${logitsRef[i]}`));
  assert.ok(Math.abs((await out.loss.item()) - loss) < 1e-5 * Math.max(1, loss), `loss ${await out.loss.item()} vs ${loss}`);
  assert.ok(Math.abs((await out.accuracy.item()) - correct / N) < 1e-6);
});

test('infoNCE ≈ ln(K+1) when q is orthogonal to the positive and every negative', async () => {
  const K = 4096;
  // q along e0; keys and queue entries live in the span of e1..e7.
  const D = 8;
  const q = tensor([
    [1, 0, 0, 0, 0, 0, 0, 0],
    [1, 0, 0, 0, 0, 0, 0, 0],
  ]);
  const orth = (x: Tensor) => x.mul(tensor([0, 1, 1, 1, 1, 1, 1, 1]));
  const k = unit(orth(randnSeeded([2, D], 5)));
  const queue = unit(orth(randnSeeded([K, D], 6)));
  const { loss } = infoNCE(q, k, queue, 0.1);
  const v = await loss.item();
  assert.ok(Math.abs(v - Math.log(K + 1)) < 1e-4, `loss ${v} vs ln(K+1) = ${Math.log(K + 1)}`);
});

test('infoNCE gradient w.r.t. q matches finite differences; k and queue get none', async () => {
  const queue = unit(randnSeeded([5, 4], 9));
  const k = unit(randnSeeded([3, 4], 8));
  await checkGrad((q) => infoNCE(q, k, queue, 0.5).loss, [randnSeeded([3, 4], 7)]);
  const kk = randnSeeded([3, 4], 8).requiresGrad_();
  const q = randnSeeded([3, 4], 7).requiresGrad_();
  infoNCE(q, kk, queue, 0.5).loss.backward();
  assert.ok(q.grad !== null);
  assert.is(kk.grad, null, 'keys are constants in MoCo');
});

test('infoNCE gradient does not change when the queue is enqueued before backward()', async () => {
  const qq = new KeyQueue({ size: 6, dim: 4, generator: new Generator(5) });
  const q1 = randnSeeded([3, 4], 11).requiresGrad_();
  const k = unit(randnSeeded([3, 4], 12));
  infoNCE(q1, k, qq, 0.2).loss.backward();
  const expected = await q1.grad!.toArray();
  const q2 = randnSeeded([3, 4], 11).requiresGrad_();
  const qq2 = new KeyQueue({ size: 6, dim: 4, generator: new Generator(5) });
  const out = infoNCE(q2, k, qq2, 0.2);
  qq2.enqueue(unit(randnSeeded([3, 4], 13))); // official order: enqueue after the loss, before backward
  out.loss.backward();
  assert.equal(Array.from(await q2.grad!.toArray()), Array.from(expected));
});

function refPairLoss(z1: number[][], z2: number[][], T: number, decoupled: boolean): number {
  const z = [...z1, ...z2];
  const n = z1.length;
  const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);
  let total = 0;
  for (let i = 0; i < 2 * n; i++) {
    const j = (i + n) % (2 * n);
    const pos = dot(z[i], z[j]) / T;
    let denom = 0;
    for (let m = 0; m < 2 * n; m++) if (m !== i && !(decoupled && m === j)) denom += Math.exp(dot(z[i], z[m]) / T);
    total += Math.log(denom) - pos;
  }
  return total / (2 * n);
}

test('ntXent and dcl equal float64 references', async () => {
  const [N, D, T] = [5, 6, 0.5];
  const z1 = unit(randnSeeded([N, D], 21));
  const z2 = unit(randnSeeded([N, D], 22));
  const h1 = host2d(await z1.toArray(), N, D);
  const h2 = host2d(await z2.toArray(), N, D);
  const nt = await ntXent(z1, z2, T).loss.item();
  const dc = await dcl(z1, z2, T).loss.item();
  assert.ok(Math.abs(nt - refPairLoss(h1, h2, T, false)) < 1e-4, `ntXent ${nt}`);
  assert.ok(Math.abs(dc - refPairLoss(h1, h2, T, true)) < 1e-4, `dcl ${dc}`);
});

/** float64: fraction of the 2N views whose most similar other view is their partner. */
function refPartnerAccuracy(z1: number[][], z2: number[][]): number {
  const z = [...z1, ...z2];
  const n = z1.length;
  const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);
  let hits = 0;
  for (let i = 0; i < 2 * n; i++) {
    let best = -1;
    for (let m = 0; m < 2 * n; m++) if (m !== i && (best < 0 || dot(z[i], z[m]) > dot(z[i], z[best]))) best = m;
    if (best === (i + n) % (2 * n)) hits++;
  }
  return hits / (2 * n);
}

test('ntXent and dcl: gradients w.r.t. both views match finite differences, accuracy matches float64', async () => {
  const [N, D, T] = [4, 5, 0.5];
  for (const [name, loss] of [
    ['ntXent', ntXent],
    ['dcl', dcl],
  ] as const) {
    await checkGrad((a, b) => loss(a, b, T).loss, [randnSeeded([N, D], 31), randnSeeded([N, D], 32)], {}, name);
    // Second views partly aligned with the first: an accuracy strictly between 0 and 1.
    const z1 = unit(randnSeeded([N, D], 33));
    const z2 = unit(z1.mul(tensor([[1], [1], [0.05], [0.05]])).add(randnSeeded([N, D], 34).mul(0.6)));
    const want = refPartnerAccuracy(host2d(await z1.toArray(), N, D), host2d(await z2.toArray(), N, D));
    assert.ok(want > 0 && want < 1, `${name}: test data should give a partial accuracy (got ${want})`);
    assert.is(await loss(z1, z2, T).accuracy.item(), want, `${name} accuracy`);
  }
});

test.run();
