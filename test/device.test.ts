// Device layer: the buffer pool (no growth over a 1000-step training loop), command batching
// (far fewer submits than dispatches while an MLP trains), the pipeline cache (no compiles after
// the first step), upload ordering against recorded work, workgroup grids past 65535, adapter
// info, and seeded random creation.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Tensor,
  tensor,
  randn,
  rand,
  full,
  arange,
  stats,
  sync,
  deviceInfo,
  noGrad,
  tidy,
  keep,
  manualSeed,
  where,
  concat,
  stack,
} from '../src/index.ts';
import { mapInto } from '../src/ops/map.ts';
import { sizeClass } from '../src/device/pool.ts';
import { isSoftware } from '../src/device/acquire.ts';
import { setup } from './helpers.ts';

test.before(setup);

/** Plain SGD, in place: p -= lr * p.grad. */
function sgdStep(params: Tensor[], lr: number): void {
  noGrad(() => {
    for (const p of params) {
      mapInto(p, [p, p.grad!], 'x0 - p.a * x1', 'sgd', lr);
      p.zeroGrad();
    }
  });
}

test('pool size classes: 256 B steps up to 4 KiB, then at most 12.5% waste', () => {
  assert.is(sizeClass(0), 256);
  assert.is(sizeClass(4), 256);
  assert.is(sizeClass(257), 512);
  assert.is(sizeClass(4096), 4096);
  assert.is(sizeClass(4097), 4608);
  for (const b of [5000, 12345, 1 << 20, 3_000_001]) {
    const c = sizeClass(b);
    assert.ok(c >= b && c <= b * 1.125 + 1, `${b} → ${c}`);
  }
});

test('1000 training iterations inside tidy: no growth in live bytes, buffers reused', async () => {
  manualSeed(1);
  const x = keep(randn([16, 4]));
  const y = keep(randn([16, 2]));
  const w = keep(randn([4, 2], { std: 0.1 }).requiresGrad_());
  const b = keep(full([2], 0).requiresGrad_());
  const step = () =>
    tidy(() => {
      x.matmul(w).add(b).sub(y).square().mean().backward();
      sgdStep([w, b], 0.05);
    });
  step();
  await sync();
  const before = stats();
  for (let i = 0; i < 1000; i++) step();
  await sync();
  const after = stats();
  // (<=: the GC may also finalize stray tensors of earlier tests meanwhile.)
  assert.ok(after.bytesLive <= before.bytesLive, `bytesLive ${before.bytesLive} → ${after.bytesLive}`);
  assert.is(after.buffersCreated, before.buffersCreated, 'every buffer after the first step came from the pool');
  assert.ok(after.buffersReused - before.buffersReused >= 1000 * 5, `reused ${after.buffersReused - before.buffersReused}`);
  assert.ok(after.dispatches - before.dispatches >= 1000 * 8, 'the loop really ran on the GPU');
  for (const t of [x, y, w, b]) t.dispose();
});

test('2-layer MLP learns synthetic data: loss / 10, few submits, cached pipelines', async () => {
  manualSeed(0);
  const X = keep(randn([64, 4]));
  // Target: tanh(2·x0) + x1·x2 (a smooth nonlinear function of the inputs).
  const Y = keep(
    noGrad(() =>
      X.slice(1, 0, 1)
        .mul(2)
        .tanh()
        .add(X.slice(1, 1, 2).mul(X.slice(1, 2, 3))),
    ),
  );
  const W1 = keep(randn([4, 32], { std: 0.5 }).requiresGrad_());
  const b1 = keep(rand([32], { low: -0.1, high: 0.1 }).requiresGrad_());
  const W2 = keep(randn([32, 1], { std: 0.2 }).requiresGrad_());
  const b2 = keep(full([1], 0).requiresGrad_());
  const params = [W1, b1, W2, b2];
  const lossOf = () => X.matmul(W1).add(b1).tanh().matmul(W2).add(b2).sub(Y).square().mean();
  const evalLoss = async () => {
    const loss = tidy(() => noGrad(lossOf));
    const value = await loss.item();
    loss.dispose();
    return value;
  };
  const step = () =>
    tidy(() => {
      lossOf().backward();
      sgdStep(params, 0.1);
    });

  const initial = await evalLoss();
  step();
  const s0 = stats();
  for (let i = 1; i < 250; i++) {
    step();
    if (i % 50 === 0) assert.ok(Number.isFinite(await evalLoss()), 'loss stays finite');
  }
  const final = await evalLoss();
  const s1 = stats();
  assert.ok(final < initial / 10, `loss ${initial} → ${final}: less than 10× lower`);
  const dispatches = s1.dispatches - s0.dispatches;
  const submits = s1.submits - s0.submits;
  assert.ok(dispatches > 249 * 20, `dispatches ${dispatches}`);
  assert.ok(submits * 10 < dispatches, `submits ${submits} vs dispatches ${dispatches}: batching is not working`);
  assert.is(s1.pipelinesCompiled, s0.pipelinesCompiled, 'no pipeline compiled after the first step');
  assert.ok(s1.bindGroupsReused - s0.bindGroupsReused > dispatches / 2, 'bind groups are reused');
  assert.ok(s1.bytesLive <= s0.bytesLive, `bytesLive ${s0.bytesLive} → ${s1.bytesLive}`);
  for (const t of [X, Y, ...params]) t.dispose();
});

test("leak detector: outside tidy(), disposing an op's result frees everything the op allocated", () => {
  // Inputs are made first; between `before` and `after` nothing awaits, so no finalizer can run.
  const x = randn([4, 6]);
  const xt = x.T;
  const v = randn([6]);
  const idx = tensor([[0], [1], [2], [3]], undefined, { dtype: 'int32' });
  const cond = x.gt(0);
  const long = randn([2, 9000]);
  const ops: [string, () => Tensor][] = [
    ['add', () => x.add(x)],
    ['div scalar', () => x.div(3)],
    ['ge', () => x.ge(0)],
    ['le', () => x.le(x)],
    ['pow', () => x.pow(3)],
    ['where', () => where(cond, x, xt.T)],
    ['sum', () => x.sum(1)],
    ['mean (split path)', () => long.mean(1)],
    ['max', () => x.max()],
    ['var', () => x.var(0)],
    ['argmin', () => x.argmin(1)],
    ['logsumexp', () => x.logsumexp(1, true)],
    ['reshape of a view', () => xt.reshape(24)],
    ['unsqueeze of a view', () => xt.unsqueeze(1)],
    ['contiguous', () => xt.contiguous()],
    ['concat', () => concat([x, xt.T], 0)],
    ['stack', () => stack([x, x], 2)],
    ['indexSelect (array index)', () => x.indexSelect(1, [5, 0])],
    ['gather', () => x.gather(1, idx)],
    ['matmul', () => x.matmul(xt)],
    ['matmul matrix·vector', () => x.matmul(v)],
    ['matmul vector·vector', () => v.matmul(v)],
    ['matmul vector·matrix', () => v.matmul(x.T)],
  ];
  for (const [name, f] of ops) {
    const before = stats().bytesLive;
    f().dispose();
    assert.is(stats().bytesLive, before, `${name} leaves ${stats().bytesLive - before} bytes live`);
  }
});

test('an upload into a recycled buffer waits for recorded work that read the old contents', async () => {
  await sync();
  const a = tensor([1, 2, 3, 4]);
  const doubled = a.mul(2); // recorded, not yet submitted: reads a's buffer
  a.dispose(); // a's buffer goes back to the pool...
  const created = stats().buffersCreated;
  const c = tensor([100, 200, 300, 400]); // ...and is taken again for c, whose upload must not overtake the mul
  assert.is(stats().buffersCreated, created, 'c reused the freed buffer');
  assert.equal(Array.from(await doubled.toArray()), [2, 4, 6, 8]);
  assert.equal(Array.from(await c.toArray()), [100, 200, 300, 400]);
});

test('dispatches beyond 65535 workgroups are split over a 2-D grid', async () => {
  // 65537 × 64 outputs of the reduce kernel (64 threads per workgroup) need 65537 workgroups.
  const n = 65537 * 64;
  const x = arange(n, undefined, 1, { dtype: 'float32' }).reshape(n, 1).expand(n, 2);
  const r = await x.sum(1).toArray(); // each output = 2 × its index
  let bad = -1;
  for (let i = 0; i < n; i++)
    if (r[i] !== 2 * i) {
      bad = i;
      break;
    }
  assert.is(bad, -1, `output ${bad} is ${r[bad]}`);
});

test('isSoftware: llvmpipe under Vulkan and under OpenGLES (named only in `device` there), SwiftShader, fallback adapters; not a GPU', () => {
  const info = (o: Partial<GPUAdapterInfo>) =>
    ({ vendor: '', architecture: '', device: '', description: '', isFallbackAdapter: false, ...o }) as GPUAdapterInfo;
  assert.ok(isSoftware(info({ vendor: 'mesa', architecture: 'software', description: 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)' })));
  assert.ok(isSoftware(info({ device: 'llvmpipe-llvm-15-0-6-256-bits-', description: 'OpenGL version OpenGL ES 3.2 Mesa 25.0.7' })));
  assert.ok(isSoftware(info({ vendor: 'google', description: 'SwiftShader Device (Subzero)' })));
  assert.ok(isSoftware(info({ isFallbackAdapter: true })));
  assert.not.ok(isSoftware(info({ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200' })));
});

test('deviceInfo names the adapter', () => {
  const info = deviceInfo();
  assert.type(info.backend, 'string');
  assert.ok(info.backend.length > 0);
  assert.ok(`${info.vendor}${info.architecture}${info.description}`.length > 0, 'adapter has a name');
  assert.ok(info.backend.includes(info.description) || info.backend === 'browser', `backend '${info.backend}' mentions the adapter`);
  assert.ok(['software', 'discrete', 'browser'].includes(info.family));
  assert.ok(info.limits.maxComputeWorkgroupsPerDimension >= 65535);
});

test('manualSeed makes rand and randn repeatable', async () => {
  manualSeed(42);
  const a1 = await rand([100]).toArray();
  const b1 = await randn([3, 7]).toArray();
  manualSeed(42);
  const a2 = await rand([100]).toArray();
  const b2 = await randn([3, 7]).toArray();
  assert.equal(Array.from(a1), Array.from(a2));
  assert.equal(Array.from(b1), Array.from(b2));
  manualSeed(43);
  const a3 = await rand([100]).toArray();
  assert.not.equal(Array.from(a3), Array.from(a1));
  assert.ok(a1.every((v) => v >= 0 && v < 1));
});

test.run();
