// capture(): replayed training steps give the same numbers as eager ones (an MLP with SGD momentum
// and weight decay; a MoCo step with its key encoder and queue), inputs written between replays
// are seen, readbacks / disposed tensors / disposed captures fail clearly, and pinned buffers go
// back to the pool on dispose().

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  init,
  capture,
  crossEntropy,
  keep,
  manualSeed,
  nn,
  optim,
  randn,
  stats,
  tensor,
  tidy,
  MoCo,
  Tensor,
  type CapturedStep,
} from '../../src/index.ts';
import { Generator } from '../../src/random.ts';
import { mapInto } from '../../src/ops/map.ts';
import { device } from '../../src/runtime.ts';
import { setup, throwsWith } from '../helpers.ts';

test.before(setup);

const TOL = 1e-5;

async function maxDiff(a: Tensor[], b: Tensor[]): Promise<number> {
  assert.is(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    const [x, y] = [await a[i].toArray(), await b[i].toArray()];
    assert.is(x.length, y.length);
    for (let j = 0; j < x.length; j++) d = Math.max(d, Math.abs(x[j] - y[j]));
  }
  return d;
}

function assertLossesClose(eager: number[], replayed: number[]): void {
  assert.is(eager.length, replayed.length);
  eager.forEach((l, i) => assert.ok(Math.abs(l - replayed[i]) <= TOL, `step ${i}: eager loss ${l}, captured ${replayed[i]}`));
  assert.ok(new Set(eager).size > 1, 'the loss should change from step to step');
}

// ---- MLP -------------------------------------------------------------------------------------

const [N, D, H, C] = [8, 6, 16, 3];

/** An MLP and its optimizer, identically initialised for a given seed. */
function makeMlp(seed: number) {
  manualSeed(seed);
  const model = new nn.Sequential(new nn.Linear(D, H), new nn.ReLU(), new nn.Linear(H, H), new nn.ReLU(), new nn.Linear(H, C));
  const opt = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 1e-3 });
  const x = keep(Tensor.empty([N, D]));
  const y = keep(Tensor.empty([N], undefined, 'int32'));
  const step = () =>
    tidy(() => {
      const loss = crossEntropy(model.forward(x), y);
      loss.backward();
      opt.step();
      opt.zeroGrad();
      return loss;
    });
  return { model, opt, x, y, step };
}

function batches(count: number, seed: number): { x: Float32Array; y: Float32Array }[] {
  const g = new Generator(seed);
  return Array.from({ length: count }, () => ({
    x: Float32Array.from({ length: N * D }, () => g.normal()),
    y: Float32Array.from({ length: N }, () => Math.floor(g.uniform() * C)),
  }));
}

async function mlpEagerVsReplay(data: { x: Float32Array; y: Float32Array }[]): Promise<void> {
  const a = makeMlp(7);
  const eager: number[] = [];
  for (const b of data) {
    a.x.writeData(b.x);
    a.y.writeData(b.y);
    const loss = a.step();
    eager.push(await loss.item());
    loss.dispose();
  }

  const b = makeMlp(7);
  const replayed: number[] = [];
  b.x.writeData(data[0].x);
  b.y.writeData(data[0].y);
  const warm = b.step(); // SGD's first step initialises the momentum buffers: capture a later one
  replayed.push(await warm.item());
  warm.dispose();
  b.x.writeData(data[1].x);
  b.y.writeData(data[1].y);
  const step = capture(b.step, { inputs: [b.x, b.y] });
  replayed.push(await step.result.item());
  for (const batch of data.slice(2)) {
    b.x.writeData(batch.x);
    b.y.writeData(batch.y);
    step.replay();
    replayed.push(await step.result.item());
  }
  assert.ok(step.dispatches > 10, `${step.dispatches} dispatches`);
  assertLossesClose(eager, replayed);
  const d = await maxDiff(a.model.parameters(), b.model.parameters());
  assert.ok(d <= TOL, `parameters differ by ${d}`);
  const momentum = (m: typeof a) => m.model.parameters().map((p) => m.opt.stateOf(p)!.momentumBuffer as Tensor);
  const dm = await maxDiff(momentum(a), momentum(b));
  assert.ok(dm <= TOL, `momentum buffers differ by ${dm}`);
  step.dispose();
}

test('MLP + SGD (momentum, weight decay): 5 eager steps = warm-up + capture + 3 replays, same batch', async () => {
  const one = batches(1, 3)[0];
  await mlpEagerVsReplay(Array.from({ length: 5 }, () => one));
});

test('MLP + SGD: a new batch written into the inputs before each replay', async () => {
  await mlpEagerVsReplay(batches(5, 4));
});

test('replay: one submit, as many dispatches as captured', async () => {
  const m = makeMlp(1);
  const [b] = batches(1, 5);
  m.x.writeData(b.x);
  m.y.writeData(b.y);
  m.step().dispose();
  const step = capture(m.step, { inputs: [m.x, m.y] });
  await step.result.item();
  const before = stats();
  step.replay();
  const after = stats();
  assert.is(after.submits - before.submits, 1);
  assert.is(after.dispatches - before.dispatches, step.dispatches);
  assert.is(after.pipelinesCompiled, before.pipelinesCompiled);
  step.dispose();
});

// ---- MoCo ------------------------------------------------------------------------------------

test('MoCo step (SmallConvNet, queue, momentum encoder): eager vs captured replays', async () => {
  // K = 2B: the queue's write pointer is frozen per capture, so one capture per pointer position
  // (ptr 4, then ptr 0), replayed alternately, enqueues where the eager steps do.
  const [B, K, S] = [4, 8, 6];
  const make = () => {
    manualSeed(11);
    const moco = new MoCo({ encoder: new nn.SmallConvNet({ width: 2 }), dim: 8, K, T: 0.2, m: 0.9, shuffleBN: false });
    const opt = new optim.SGD(moco.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 });
    const xq = keep(Tensor.empty([B, 1, 8, 8]));
    const xk = keep(Tensor.empty([B, 1, 8, 8]));
    const step = () =>
      tidy(() => {
        const { loss } = moco.step(xq, xk);
        loss.backward();
        opt.step();
        opt.zeroGrad();
        return loss;
      });
    return { moco, xq, xk, step };
  };
  const g = new Generator(21);
  const views = Array.from({ length: S }, () => [0, 1].map(() => Float32Array.from({ length: B * 64 }, () => g.uniform())));

  const a = make();
  const eager: number[] = [];
  for (const [q, k] of views) {
    a.xq.writeData(q);
    a.xk.writeData(k);
    const loss = a.step();
    eager.push(await loss.item());
    loss.dispose();
  }

  const b = make();
  const replayed: number[] = [];
  const feed = (i: number) => {
    b.xq.writeData(views[i][0]);
    b.xk.writeData(views[i][1]);
  };
  feed(0);
  const warm = b.step();
  replayed.push(await warm.item());
  warm.dispose();
  const caps: CapturedStep<Tensor>[] = [];
  for (const i of [1, 2]) {
    feed(i);
    caps.push(capture(b.step, { inputs: [b.xq, b.xk] }));
    replayed.push(await caps.at(-1)!.result.item());
  }
  for (let i = 3; i < S; i++) {
    feed(i);
    const c = caps[(i - 1) % 2];
    c.replay();
    replayed.push(await c.result.item());
  }
  assertLossesClose(eager, replayed);
  const params = (m: MoCo) => [...m.encoderQ.namedParameters()].map(([, p]) => p);
  const keyParams = (m: MoCo) => [...m.momentum.key.namedParameters()].map(([, p]) => p);
  const dq = await maxDiff(params(a.moco), params(b.moco));
  const dk = await maxDiff(keyParams(a.moco), keyParams(b.moco));
  const dQueue = await maxDiff([a.moco.queue.tensor], [b.moco.queue.tensor]);
  const dBn = await maxDiff(
    [...a.moco.encoderQ.buffers(), ...a.moco.momentum.key.buffers()],
    [...b.moco.encoderQ.buffers(), ...b.moco.momentum.key.buffers()],
  );
  assert.ok(dBn <= TOL, `BN running statistics differ by ${dBn}`);
  assert.ok(dq <= TOL, `query parameters differ by ${dq}`);
  assert.ok(dk <= TOL, `key encoder parameters differ by ${dk}`);
  assert.ok(dQueue <= TOL, `queues differ by ${dQueue}`);
  for (const c of caps) c.dispose();
});

// ---- errors ----------------------------------------------------------------------------------

test('readbacks inside the captured function throw', async () => {
  const x = keep(randn([4]));
  const pending: Promise<unknown>[] = [];
  throwsWith(() => capture(() => void pending.push(x.add(1).toArray())), 'toArray() reads a value back', 'cannot be captured');
  for (const p of pending)
    await p.then(
      () => assert.unreachable('the readback should fail'),
      (e: Error) => assert.match(e.message, 'cannot be captured'),
    );
  throwsWith(() => capture(async () => await x.mul(2).sum().item()), 'must be synchronous', 'cannot be captured');
  // The device still works eagerly afterwards, and a later capture records normally.
  const step = capture(() => x.mul(2));
  step.replay();
  assert.equal(Array.from(await step.result.toArray()), Array.from(await x.mul(2).toArray()));
  step.dispose();
  x.dispose();
});

test('replay after dispose, after disposing a parameter or an input, and writing an input inside fn: clear errors', async () => {
  const m = makeMlp(2);
  const [b] = batches(1, 6);
  m.x.writeData(b.x);
  m.y.writeData(b.y);
  m.step().dispose();
  const step = capture(m.step, { inputs: [m.x, m.y] });
  step.replay();
  step.dispose();
  throwsWith(() => step.replay(), 'CapturedStep.replay()', 'was disposed');

  const again = capture(m.step, { inputs: [m.x, m.y] });
  again.replay();
  m.model.parameters()[0].dispose();
  throwsWith(() => again.replay(), 'CapturedStep.replay()', 'was disposed after capture');
  again.dispose();

  const w = keep(randn([3, 3]));
  const x = keep(randn([3]));
  const byInput = capture(() => w.matmul(x.unsqueeze(1)), { inputs: [x] });
  x.dispose();
  throwsWith(() => byInput.replay(), 'input 0', 'was disposed after capture');
  byInput.dispose();

  const x2 = keep(randn([3]));
  throwsWith(() => capture(() => x2.writeData([1, 2, 3]).mul(w), { inputs: [x2] }), 'writes into one of its inputs');
  throwsWith(() => capture(() => w.mul(2), { inputs: [x2] }), 'input 0', 'not used by the captured step');
  throwsWith(() => capture(() => capture(() => w.mul(2))), 'cannot nest');
  w.dispose();
  x2.dispose();
});

test('uploads and copies inside fn are replayed in order, uploads with their captured data', async () => {
  // fn adds s into acc, snapshots it, resets acc from the host mid-step, adds s again: a replay
  // must re-upload the captured reset at that point (not before the step, not skip it).
  const s = keep(tensor([1, 2, 3]));
  const acc = keep(tensor([0, 0, 0]));
  const step = capture(() => {
    mapInto(acc, [acc, s], 'x0 + x1', 'acc');
    const before = acc.mul(1);
    const copied = Tensor.empty([3]);
    device().copy(acc.storage.buffer, 0, copied.storage.buffer, 0, 12); // a buffer-to-buffer copy, replayed in place
    acc.writeData([1, 1, 1]);
    mapInto(acc, [acc, s], 'x0 + x1', 'acc');
    return [before, acc.mul(1), copied];
  });
  assert.equal(Array.from(await step.result[0].toArray()), [1, 2, 3]);
  assert.equal(Array.from(await step.result[1].toArray()), [2, 3, 4]);
  assert.equal(Array.from(await step.result[2].toArray()), [1, 2, 3]);
  s.writeData([100, 200, 300]);
  step.replay();
  assert.equal(Array.from(await step.result[0].toArray()), [102, 203, 304]);
  assert.equal(Array.from(await step.result[1].toArray()), [101, 201, 301]);
  assert.equal(Array.from(await step.result[2].toArray()), [102, 203, 304]);
  step.dispose();
  for (const t of [s, acc, ...step.result]) t.dispose();
});

// ---- pool ------------------------------------------------------------------------------------

test('pool: intermediates stay pinned while a capture lives and return on dispose (20 cycles, no leak)', async () => {
  const m = makeMlp(3);
  const [b] = batches(1, 8);
  m.x.writeData(b.x);
  m.y.writeData(b.y);
  m.step().dispose();
  const cycle = async () => {
    const step = capture(m.step, { inputs: [m.x, m.y] });
    step.replay();
    // While the capture lives its released intermediates are pinned, never handed out again.
    assert.ok(stats().bytesPinned > 0, 'intermediates pinned');
    const other = tidy(() => randn([N, H]).relu().sum());
    await other.item();
    other.dispose();
    step.replay();
    const loss = await step.result.item();
    assert.ok(Number.isFinite(loss));
    step.result.dispose();
    step.dispose();
  };
  await cycle();
  const first = stats();
  assert.is(first.bytesPinned, 0);
  for (let i = 0; i < 19; i++) await cycle();
  const last = stats();
  assert.is(last.bytesPinned, 0, 'bytesPinned after dispose');
  // (Live and pooled bytes are compared together: the GC may release earlier tests' tensors meanwhile.)
  assert.is(last.bytesLive + last.bytesPooled, first.bytesLive + first.bytesPooled, 'bytes held by the pool');
  assert.is(last.buffersCreated, first.buffersCreated, 'no new buffers after the first cycle');
});

test('a pinned buffer is not handed out while the capture lives', () => {
  const x = keep(randn([64]));
  const inner: GPUBuffer[] = [];
  const step = capture(() =>
    tidy(() => {
      const e = x.exp();
      const e1 = e.add(1);
      inner.push(e.storage.buffer, e1.storage.buffer);
      return e1.sum();
    }),
  );
  // exp(x) and exp(x) + 1 were released inside fn (tidy), yet no new [64] tensor may get their buffers.
  const ts = Array.from({ length: 8 }, () => Tensor.empty([64]));
  for (const t of ts) assert.not.ok(inner.includes(t.storage.buffer), 'a pinned buffer was handed out');
  assert.ok(stats().bytesPinned >= 2 * 256, `${stats().bytesPinned} bytes pinned`);
  for (const t of ts) t.dispose();
  step.result.dispose();
  step.dispose();
  assert.is(stats().bytesPinned, 0);
  // Back in the pool: the next allocations of that size class reuse them.
  const again = Array.from({ length: 16 }, () => Tensor.empty([64]));
  assert.ok(
    again.some((t) => inner.includes(t.storage.buffer)),
    'unpinned buffers are reused',
  );
  for (const t of again) t.dispose();
  x.dispose();
});

// ---- device loss (last: it replaces the device) -----------------------------------------------

test('replay on a lost device throws, and init() gives a new one', async () => {
  const w = keep(randn([4]));
  const step = capture(() => w.mul(2));
  device().simulateLoss();
  throwsWith(() => step.replay(), 'CapturedStep.replay()', 'the GPU device was lost');
  step.dispose();
  await init();
  const x = keep(tensor([1, 2]));
  const again = capture(() => x.mul(3));
  again.replay();
  assert.equal(Array.from(await again.result.toArray()), [3, 6]);
  again.dispose();
});

test.run();
