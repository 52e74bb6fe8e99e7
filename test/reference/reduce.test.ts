import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as R from '../../src/reference/index.ts';
import { close, scalar, seq, t, throwsWith } from './helpers.ts';

const m = t([1, 2, 3, 4, 5, 6], [2, 3]);

test('sum over dims, keepdim, and over all dims to rank 0', () => {
  close(R.sum(m, { dims: [0], keepdim: false }), [5, 7, 9], [3]);
  close(R.sum(m, { dims: [1], keepdim: true }), [6, 15], [2, 1]);
  close(R.sum(m, { dims: [], keepdim: false }), [21], []);
  close(R.sum(m, { dims: [], keepdim: true }), [21], [1, 1]);
  close(R.sum(m, { dims: [0, 1], keepdim: false }), [21], []);
  close(R.sum(scalar(4), { dims: [], keepdim: false }), [4], []);
  close(R.sum(t([], [2, 0]), { dims: [1], keepdim: false }), [0, 0], [2]);
});

test('reductions over a rank-5 tensor match explicit loops', () => {
  const x = seq([2, 3, 2, 2, 3], 0.41, 0.2);
  const s = R.sum(x, { dims: [1, 3], keepdim: false });
  assert.equal(s.shape, [2, 2, 3]);
  for (let a = 0; a < 2; a++)
    for (let c = 0; c < 2; c++)
      for (let e = 0; e < 3; e++) {
        let want = 0;
        for (let b = 0; b < 3; b++) for (let d = 0; d < 2; d++) want += x.data[(((a * 3 + b) * 2 + c) * 2 + d) * 3 + e];
        assert.ok(Math.abs(s.data[(a * 2 + c) * 3 + e] - want) < 1e-12);
      }
  const k = R.mean(x, { dims: [0, 2, 4], keepdim: true });
  assert.equal(k.shape, [1, 3, 1, 2, 1]);
});

test('mean, prod, max, min', () => {
  close(R.mean(m, { dims: [1], keepdim: false }), [2, 5], [2]);
  close(R.prod(m, { dims: [0], keepdim: false }), [4, 10, 18], [3]);
  close(R.max(t([3, -1, 7, 2], [2, 2]), { dims: [1], keepdim: false }), [3, 7]);
  close(R.min(t([3, -1, 7, 2], [2, 2]), { dims: [], keepdim: false }), [-1], []);
  close(R.max(t([1, NaN, 3], [3]), { dims: [0], keepdim: false }), [NaN], []);
  throwsWith(() => R.max(t([], [0]), { dims: [0], keepdim: false }), 'max', 'empty');
});

test('var with correction 0 and 1', () => {
  const x = t([2, 4, 4, 4, 5, 5, 7, 9], [8]); // mean 5, Σ(x−5)² = 32
  close(R.variance(x, { dims: [0], keepdim: false, correction: 0 }), [4], []);
  close(R.variance(x, { dims: [0], keepdim: false, correction: 1 }), [32 / 7], []);
  close(R.variance(m, { dims: [1], keepdim: true, correction: 1 }), [1, 1], [2, 1]);
});

test('argmax / argmin return the first occurrence on ties', () => {
  const x = t([1, 5, 5, 0, 2, 2, -3, 4], [2, 4]);
  close(R.argmax(x, { dim: 1, keepdim: false }), [1, 3], [2]);
  close(R.argmin(x, { dim: 1, keepdim: true }), [3, 2], [2, 1]);
  close(R.argmax(x, { dim: 0, keepdim: false }), [1, 0, 0, 1], [4]);
  close(R.argmax(t([0, 1, 1, 1], [4]), { dim: 0, keepdim: false }), [1], []);
  close(R.argmin(t([2, 1, 1], [3]), { dim: -1, keepdim: false }), [1], []);
  close(R.argmax(t([1, NaN, 9], [3]), { dim: 0, keepdim: false }), [1], []);
});

test('logsumexp equals log(sum(exp)) and is stable', () => {
  const x = seq([3, 4], 0.9, 0.3, Math.sin, 3);
  const direct = R.log(R.sum(R.exp(x), { dims: [1], keepdim: false }));
  close(R.logsumexp(x, { dims: [1], keepdim: false }), direct.data, [3]);
  close(R.logsumexp(t([1000, 1000], [2]), { dims: [], keepdim: false }), [1000 + Math.log(2)], []);
  close(R.logsumexp(t([-1000, -1000], [2]), { dims: [0], keepdim: true }), [-1000 + Math.log(2)], [1]);
  close(R.logsumexp(t([-Infinity, -Infinity], [2]), { dims: [0], keepdim: false }), [-Infinity], []);
  close(R.logsumexp(t([Infinity, 0], [2]), { dims: [0], keepdim: false }), [Infinity], []);
});

test('invalid dims are reported with the op name', () => {
  throwsWith(() => R.sum(m, { dims: [2], keepdim: false }), 'sum', 'dim 2', 'rank 2');
  throwsWith(() => R.mean(m, { dims: [1, 1], keepdim: false }), 'mean', 'repeated');
  throwsWith(() => R.argmax(m, { dim: 5, keepdim: false }), 'argmax', 'dim 5');
});

test.run();
