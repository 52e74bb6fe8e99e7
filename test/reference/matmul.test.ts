import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as R from '../../src/reference/index.ts';
import { close, seq, t, throwsWith } from './helpers.ts';

test('2×3 · 3×2 by hand', () => {
  const a = t([1, 2, 3, 4, 5, 6], [2, 3]);
  const b = t([7, 8, 9, 10, 11, 12], [3, 2]);
  // [1·7+2·9+3·11, 1·8+2·10+3·12; 4·7+5·9+6·11, 4·8+5·10+6·12]
  close(R.matmul(a, b), [58, 64, 139, 154], [2, 2]);
});

test('1-D operands follow torch.matmul', () => {
  const v = t([1, 2, 3], [3]);
  const a = t([1, 2, 3, 4, 5, 6], [2, 3]);
  close(R.matmul(v, v), [14], []);
  close(R.matmul(a, v), [14, 32], [2]);
  close(R.matmul(t([1, -1], [2]), a), [-3, -3, -3], [3]);
  const batch = seq([4, 3, 2], 0.3, 0.1);
  const vb = R.matmul(v, batch); // [3]·[4,3,2] → [4,2]
  assert.equal(vb.shape, [4, 2]);
  for (let b = 0; b < 4; b++)
    for (let j = 0; j < 2; j++) {
      let want = 0;
      for (let k = 0; k < 3; k++) want += v.data[k] * batch.data[b * 6 + k * 2 + j];
      assert.ok(Math.abs(vb.data[b * 2 + j] - want) < 1e-12);
    }
});

test('batch dims broadcast (rank 4 against rank 3)', () => {
  const a = seq([2, 1, 2, 3], 0.7, 0.2);
  const b = seq([3, 3, 4], 0.45, -0.1);
  const c = R.matmul(a, b);
  assert.equal(c.shape, [2, 3, 2, 4]);
  for (let p = 0; p < 2; p++)
    for (let q = 0; q < 3; q++)
      for (let i = 0; i < 2; i++)
        for (let j = 0; j < 4; j++) {
          let want = 0;
          for (let k = 0; k < 3; k++) want += a.data[p * 6 + i * 3 + k] * b.data[q * 12 + k * 4 + j];
          assert.ok(Math.abs(c.data[((p * 3 + q) * 2 + i) * 4 + j] - want) < 1e-12);
        }
});

test('matmul errors name both shapes', () => {
  throwsWith(() => R.matmul(t([1, 2, 3, 4, 5, 6], [2, 3]), t([1, 2, 3, 4], [2, 2])), 'matmul', '[2,3]', '[2,2]', '3 != 2');
  throwsWith(() => R.matmul(t([1], []), t([1], [1])), 'matmul', 'rank >= 1');
  throwsWith(() => R.matmul(seq([2, 2, 2], 1, 0), seq([3, 2, 2], 1, 0)), 'matmul', '[2]', '[3]');
});

test('linear = x·Wᵀ + b, with and without bias, 1-D and 3-D x', () => {
  const w = t([1, 0, 2, -1, 1, 0], [2, 3]); // out 2, in 3
  const b = t([0.5, -0.5], [2]);
  const x = t([1, 2, 3, 4, 5, 6], [2, 3]);
  close(R.linear(x, w, b), [7.5, 0.5, 16.5, 0.5], [2, 2]);
  close(R.linear(x, w), [7, 1, 16, 1], [2, 2]);
  close(R.linear(t([1, 2, 3], [3]), w, b), [7.5, 0.5], [2]);
  close(R.linear(R.reshape(x, { shape: [2, 1, 3] }), w, b), [7.5, 0.5, 16.5, 0.5], [2, 1, 2]);
  throwsWith(() => R.linear(t([1, 2], [1, 2]), w), 'linear', '[1,2]', '[2,3]');
  throwsWith(() => R.linear(x, w, t([1, 2, 3], [3])), 'linear', 'bias', '[3]');
});

test.run();
