// Errors are part of the API: each names the op and the offending shapes or values, and says
// what to do. Covers shape mismatches, disposed tensors, use after shutdown() (then a fresh
// init(), so later test files in the same process keep working), reshape, dims, rank limits.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tensor, tensor, zeros, ones, init, shutdown, tidy, concat, stack, matmul, deviceInfo } from '../src/index.ts';
import { setup, throwsWith } from './helpers.ts';

test.before(setup);

async function rejectsWith(fn: () => Promise<unknown>, ...fragments: string[]): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const msg = (err as Error).message;
    for (const f of fragments) assert.ok(msg.includes(f), `message "${msg}" should contain "${f}"`);
    return;
  }
  assert.unreachable(`expected an error containing ${JSON.stringify(fragments)}`);
}

test('elementwise shape mismatch names the op and both shapes', () => {
  const a = zeros([2, 3]);
  const b = zeros([4]);
  throwsWith(() => a.add(b), 'add', '[2, 3]', '[4]');
  throwsWith(() => a.mul(zeros([3, 3])), 'mul', '[2, 3]', '[3, 3]');
  throwsWith(() => zeros([5, 1, 2]).sub(zeros([3, 3])), 'sub', '[5, 1, 2]', '[3, 3]');
});

test('matmul mismatch names the op and both shapes', () => {
  throwsWith(() => zeros([2, 3]).matmul(zeros([4, 5])), 'matmul', '[2, 3]', '[4, 5]');
  throwsWith(() => zeros([3]).matmul(zeros([4])), 'matmul', '[3]', '[4]');
  throwsWith(() => matmul(zeros([2, 2, 3]), zeros([3, 3, 4])), 'matmul', '[2, 2, 3]', '[3, 3, 4]');
  throwsWith(() => zeros([]).matmul(zeros([2])), 'matmul', '[]', '[2]');
});

test('reading or using a disposed tensor throws a clear error', async () => {
  const x = tensor([1, 2, 3]);
  x.dispose();
  await rejectsWith(() => x.toArray(), 'toArray', 'disposed', '[3]');
  throwsWith(() => x.add(1), 'disposed');
  throwsWith(() => x.sum(), 'disposed');
  throwsWith(() => x.matmul(zeros([3])), 'disposed');
  throwsWith(() => x.reshape(3, 1), 'disposed');
  throwsWith(() => x.indexSelect(0, [0]), 'disposed');
  throwsWith(() => ones([3]).gather(0, x), 'disposed');
  throwsWith(() => concat([ones([3]), x]), 'disposed');
  const kept = tidy(() => {
    const tmp = ones([2]);
    return tmp.add(1);
  });
  assert.equal(Array.from(await kept.toArray()), [2, 2]);
  let inner: Tensor | null = null;
  tidy(() => {
    inner = ones([2]);
  });
  await rejectsWith(() => inner!.toArray(), 'disposed', 'tidy');
});

test('bad reshape / view names both shapes', () => {
  const x = zeros([2, 3]);
  throwsWith(() => x.reshape(4, 2), 'reshape', '[2, 3]', '[4, 2]');
  throwsWith(() => x.reshape(-1, 4), 'reshape', '[2, 3]', '[-1, 4]');
  throwsWith(() => x.view(-1, -1), 'reshape', '-1');
  throwsWith(() => x.expand(4, 2), 'expand', '[2, 3]', '[4, 2]');
  throwsWith(() => x.permute(0, 0), 'permute', '[2, 3]');
  throwsWith(() => tensor([1, 2, 3], [2, 2]), '3 values', '[2, 2]');
  throwsWith(() => stack([zeros([2]), zeros([3])]), 'stack', '[2]', '[3]');
  throwsWith(() => concat([zeros([2, 2]), zeros([3, 3])], 0), 'concat', '[2, 2]', '[3, 3]');
});

test('out-of-range dims name the dim and the rank', () => {
  const x = zeros([2, 3]);
  throwsWith(() => x.sum(2), 'sum', 'dim 2', 'rank 2');
  throwsWith(() => x.mean(-3), 'mean', 'dim -3');
  throwsWith(() => x.max([0, 5]), 'max', 'dim 5');
  throwsWith(() => x.argmax(3), 'argmax', 'dim 3');
  throwsWith(() => x.var(7), 'var', 'dim 7');
  throwsWith(() => x.logsumexp(2), 'logsumexp', 'dim 2');
  throwsWith(() => x.transpose(0, 2), 'transpose', 'dim 2');
  throwsWith(() => x.slice(2, 0, 1), 'slice', 'dim 2');
  throwsWith(() => x.unsqueeze(4), 'unsqueeze', 'dim 4');
  throwsWith(() => x.squeeze(-3), 'squeeze', 'dim -3');
  throwsWith(() => x.gather(2, zeros([2, 3])), 'gather');
  throwsWith(() => x.indexSelect(0, [2]), 'indexSelect', 'index 2');
  throwsWith(() => x.sum([1, -1]), 'sum', 'twice');
});

test('slicing, joining and indexing a rank-0 tensor is refused clearly', () => {
  const s = tensor(2);
  throwsWith(() => s.slice(0, 0, 1), 'slice', 'rank-0');
  throwsWith(() => s.narrow(0, 0, 1), 'slice', 'rank-0');
  throwsWith(() => concat([s, s]), 'concat', 'rank-0');
  throwsWith(() => s.indexSelect(0, [0]), 'indexSelect', 'rank-0');
  throwsWith(() => s.gather(0, tensor(0)), 'gather', 'rank-0');
});

test('rank above 8 is refused wherever a tensor is made', () => {
  const nine = [1, 1, 1, 1, 1, 1, 1, 1, 2];
  throwsWith(() => zeros(nine), 'rank 9', '8');
  throwsWith(() => tensor([1, 2], nine), 'rank 9', '8');
  const x = zeros([2]);
  throwsWith(() => x.reshape(nine), 'rank 9', '8');
  throwsWith(() => x.expand(nine), 'rank 9', '8');
  throwsWith(() => zeros([1, 1, 1, 1, 1, 1, 1, 2]).unsqueeze(0), 'rank 9', '8');
  throwsWith(() => stack([zeros([1, 1, 1, 1, 1, 1, 1, 2])], 0), 'rank 9', '8');
});

test('item() on a tensor with more than one element', async () => {
  await rejectsWith(() => zeros([2]).item(), 'item', '2 elements');
});

test('backward errors: nothing requires grad', () => {
  throwsWith(() => zeros([1]).sum().backward(), 'backward', 'does not require grad');
});

test('a tensor larger than one GPU buffer binding is refused with its shape, the limit and what to do', () => {
  const limit = deviceInfo().limits.maxStorageBufferBindingSize;
  const rows = Math.floor(limit / 4 / 1000) + 1; // one row over the limit
  throwsWith(() => zeros([rows, 1000]), `[${rows}, 1000]`, String(limit), 'split it into blocks', `at most ${rows - 1} rows`);
});

test('using tensors after shutdown() throws; init() starts a fresh device', async () => {
  const x = tensor([1, 2]);
  const y = x.mul(3);
  shutdown();
  await rejectsWith(() => y.toArray(), 'shutdown', 'init');
  throwsWith(() => x.add(1), 'shutdown');
  throwsWith(() => x.sum(), 'shutdown');
  throwsWith(() => x.reshape(2, 1), 'shutdown');
  throwsWith(() => tensor([1]), 'the GPU device was shut down', 'call `await init()` again');
  throwsWith(() => zeros(2), 'the GPU device was shut down');
  await init();
  const z = tensor([4, 5]).mul(2);
  assert.equal(Array.from(await z.toArray()), [8, 10]);
  throwsWith(() => z.add(x), 'shutdown'); // an old tensor mixed with a new one
  x.dispose(); // disposing a tensor of the old device is harmless
  y.dispose();
});

test.run();
