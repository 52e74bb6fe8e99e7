import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { broadcastShapes, broadcastTo, numel, refTensor, stridesOf } from '../../src/reference/index.ts';
import { close, t, throwsWith } from './helpers.ts';

test('numel and stridesOf, including rank 0 and rank 4', () => {
  assert.is(numel([]), 1);
  assert.is(numel([2, 3, 4]), 24);
  assert.is(numel([2, 0, 4]), 0);
  assert.equal(stridesOf([]), []);
  assert.equal(stridesOf([2, 3, 4, 5]), [60, 20, 5, 1]);
});

test('refTensor copies its data and validates the size', () => {
  const src = [1, 2, 3, 4, 5, 6];
  const x = refTensor(src, [2, 3]);
  src[0] = 99;
  assert.is(x.data[0], 1);
  assert.ok(x.data instanceof Float64Array);
  close(refTensor([7], []), [7], []);
  throwsWith(() => refTensor([1, 2, 3], [2, 2]), 'refTensor', '3 elements', '[2,2]');
  throwsWith(() => refTensor([1], [1.5]), 'refTensor', 'invalid shape');
});

test('broadcastShapes follows NumPy rules in both directions', () => {
  assert.equal(broadcastShapes([2, 3], [3]), [2, 3]);
  assert.equal(broadcastShapes([3], [2, 3]), [2, 3]);
  assert.equal(broadcastShapes([3, 1], [1, 4]), [3, 4]);
  assert.equal(broadcastShapes([1, 4], [3, 1]), [3, 4]);
  assert.equal(broadcastShapes([], [2, 2]), [2, 2]);
  assert.equal(broadcastShapes([5, 1, 3, 1], [4, 1, 2]), [5, 4, 3, 2]);
  assert.equal(broadcastShapes([2, 0], [1]), [2, 0]);
  throwsWith(() => broadcastShapes([2, 3], [4]), '[2,3]', '[4]');
  throwsWith(() => broadcastShapes([2, 3], [3, 3], 'mul'), 'mul: shapes [2,3] and [3,3] cannot broadcast');
});

test('broadcastTo repeats size-1 dims and adds leading dims', () => {
  close(broadcastTo(t([1, 2], [2, 1]), [2, 2, 3]), [1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2], [2, 2, 3]);
  throwsWith(() => broadcastTo(t([1, 2], [2]), [3]), '[2]', '[3]');
});

test.run();
