// Readbacks through the device's cached staging buffers (device.readInto / read): values and
// offsets exact whatever size was read before (a cached buffer larger than the read must not
// leak older bytes), reads in flight at once each get their own buffer, and trim() drops them.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setup } from '../helpers.ts';
import { tensor, arange } from '../../src/index.ts';
import { device } from '../../src/runtime.ts';

test.before(setup);

test('readInto and toArray give exact values at offsets, after larger and smaller reads', async () => {
  const big = arange(0, 100_000, 1, { dtype: 'float32' });
  const small = tensor([7, 8, 9, 10, 11]);
  const dst = new Float32Array(100_000);
  await device().readInto(big.storage.buffer, 0, dst, 'test');
  assert.is(dst[0], 0);
  assert.is(dst[99_999], 99_999);
  // A smaller read after a larger one (the cached staging buffer is larger than the read).
  const part = new Float32Array(3);
  await device().readInto(small.storage.buffer, small.offset * 4 + 8, part, 'test');
  assert.equal([...part], [9, 10, 11]);
  assert.equal([...(await small.toArray())], [7, 8, 9, 10, 11]);
  // A view of part of a larger array: only its bytes are written.
  const host = new Float32Array([-1, -1, -1, -1, -1]);
  await device().readInto(big.storage.buffer, 4 * 50_000, host.subarray(1, 3), 'test');
  assert.equal([...host], [-1, 50_000, 50_001, -1, -1]);
  big.dispose();
  small.dispose();
});

test('concurrent reads each get their own staging buffer', async () => {
  const xs = [0, 1, 2, 3, 4, 5].map((i) => arange(i * 1000, i * 1000 + 4096, 1, { dtype: 'float32' }));
  const got = await Promise.all(xs.map((x) => x.toArray()));
  got.forEach((values, i) => {
    assert.is(values.length, 4096);
    assert.is(values[0], i * 1000);
    assert.is(values[4095], i * 1000 + 4095);
  });
  device().trim();
  assert.is((await xs[2].toArray())[10], 2010); // a fresh staging buffer after trim
  for (const x of xs) x.dispose();
});

test('a zero-length read returns an empty array', async () => {
  assert.is((await tensor([]).toArray()).length, 0);
});

test.run();
