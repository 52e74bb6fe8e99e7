import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setup, randnSeeded } from '../helpers.ts';
import { KeyQueue } from '../../src/moco/queue.ts';
import { Generator } from '../../src/random.ts';

test.before(setup);

/** Reference ring buffer on the host. */
function refEnqueue(buf: Float32Array, ptr: number, keys: Float32Array, K: number, dim: number): number {
  const B = keys.length / dim;
  for (let b = 0; b < B; b++) buf.set(keys.subarray(b * dim, (b + 1) * dim), ((ptr + b) % K) * dim);
  return (ptr + B) % K;
}

for (const [K, B] of [
  [12, 4],
  [10, 4],
  [7, 7],
  [9, 2],
]) {
  test(`queue K=${K} batch=${B}: after n enqueues equals a reference ring buffer`, async () => {
    const dim = 5;
    const q = new KeyQueue({ size: K, dim, generator: new Generator(3) });
    const init = await q.snapshot();
    // initial keys are unit-norm rows
    for (let i = 0; i < K; i++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += init[i * dim + d] ** 2;
      assert.ok(Math.abs(Math.sqrt(s) - 1) < 1e-5, `row ${i} norm ${Math.sqrt(s)}`);
    }
    const ref = init.slice();
    let ptr = 0;
    for (let n = 0; n < 7; n++) {
      const keys = randnSeeded([B, dim], 100 + n);
      const host = await keys.toArray();
      q.enqueue(keys);
      ptr = refEnqueue(ref, ptr, host, K, dim);
      assert.is(q.ptr, ptr);
    }
    assert.equal(Array.from(await q.snapshot()), Array.from(ref));
    q.dispose();
  });
}

test('queue rejects a batch larger than K and keys of the wrong dim', () => {
  const q = new KeyQueue({ size: 4, dim: 3 });
  assert.throws(() => q.enqueue(randnSeeded([5, 3])), /larger than the queue \(K=4\)/);
  assert.throws(() => q.enqueue(randnSeeded([2, 4])), /\[B, 3\]/);
  q.dispose();
});

test.run();
