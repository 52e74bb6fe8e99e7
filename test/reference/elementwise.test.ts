import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as R from '../../src/reference/index.ts';
import { close, scalar, seq, t, throwsWith } from './helpers.ts';

test('binary ops on hand-computed values', () => {
  const a = t([1, -2, 3, 4], [2, 2]);
  const b = t([2, 4, -1, 0.5], [2, 2]);
  close(R.add(a, b), [3, 2, 2, 4.5], [2, 2]);
  close(R.sub(a, b), [-1, -6, 4, 3.5], [2, 2]);
  close(R.mul(a, b), [2, -8, -3, 2], [2, 2]);
  close(R.div(a, b), [0.5, -0.5, -3, 8], [2, 2]);
  close(R.pow(a, b), [1, 16, 1 / 3, 2], [2, 2]);
  close(R.maximum(a, b), [2, 4, 3, 4], [2, 2]);
  close(R.minimum(a, b), [1, -2, -1, 0.5], [2, 2]);
});

test('comparisons give 1.0 / 0.0', () => {
  const a = t([1, 2, 3], [3]);
  const b = t([2, 2, 2], [3]);
  close(R.gt(a, b), [0, 0, 1]);
  close(R.lt(a, b), [1, 0, 0]);
  close(R.ge(a, b), [0, 1, 1]);
  close(R.le(a, b), [1, 1, 0]);
  close(R.eq(a, b), [0, 1, 0]);
});

test('broadcasting in both directions, rank 0 and rank 4', () => {
  const row = t([10, 20, 30], [3]);
  const m = t([1, 2, 3, 4, 5, 6], [2, 3]);
  close(R.add(m, row), [11, 22, 33, 14, 25, 36], [2, 3]);
  close(R.sub(row, m), [9, 18, 27, 6, 15, 24], [2, 3]);
  const col = t([1, 2], [2, 1]);
  close(R.mul(col, row), [10, 20, 30, 20, 40, 60], [2, 3]);
  close(R.mul(row, col), [10, 20, 30, 20, 40, 60], [2, 3]);
  close(R.add(scalar(1), scalar(2)), [3], []);
  close(R.mul(scalar(2), m), [2, 4, 6, 8, 10, 12], [2, 3]);
  const x4 = seq([2, 1, 3, 2], 0.3, 0.1);
  const y4 = seq([4, 1, 2], 0.7, -0.2);
  const z = R.add(x4, y4);
  assert.equal(z.shape, [2, 4, 3, 2]);
  // z[n, c, h, w] = x4[n, 0, h, w] + y4[c, 0, w]
  for (let n = 0; n < 2; n++)
    for (let c = 0; c < 4; c++)
      for (let h = 0; h < 3; h++)
        for (let w = 0; w < 2; w++) {
          const want = x4.data[n * 6 + h * 2 + w] + y4.data[c * 2 + w];
          assert.is(z.data[((n * 4 + c) * 3 + h) * 2 + w], want);
        }
});

test('incompatible shapes name the op and both shapes', () => {
  throwsWith(() => R.add(t([1, 2, 3, 4, 5, 6], [2, 3]), t([1, 2, 3, 4], [4])), 'add: shapes [2,3] and [4] cannot broadcast');
  throwsWith(() => R.eq(t([1, 2], [2]), t([1, 2, 3], [3])), 'eq:', '[2]', '[3]');
});

test('unary ops on hand-computed values', () => {
  const x = t([-2, 0, 0.5, 4], [4]);
  close(R.neg(x), [2, -0, -0.5, -4]);
  close(R.exp(x), [Math.exp(-2), 1, Math.exp(0.5), Math.exp(4)]);
  close(R.log(t([1, Math.E, 0], [3])), [0, 1, -Infinity]);
  close(R.sqrt(t([4, 2.25], [2])), [2, 1.5]);
  close(R.abs(x), [2, 0, 0.5, 4]);
  close(R.relu(x), [0, 0, 0.5, 4]);
  close(R.sigmoid(t([0, Math.log(3)], [2])), [0.5, 0.75]);
  close(R.tanh(t([0, Math.log(2)], [2])), [0, 0.6]); // tanh(ln 2) = (2 − 1/2)/(2 + 1/2)
  close(R.square(x), [4, 0, 0.25, 16]);
  close(R.reciprocal(t([2, -4, 0], [3])), [0.5, -0.25, Infinity]);
  close(R.relu(scalar(-3)), [0], []);
});

test('sigmoid is stable at extreme inputs', () => {
  const s = R.sigmoid(t([-1000, 1000, -40], [3]));
  close(s, [0, 1, 1 / (1 + Math.exp(40))], [3], 1e-15);
  assert.ok(s.data.every((v) => Number.isFinite(v)));
});

test('scalar variants', () => {
  const x = t([1, 2, 4], [3]);
  close(R.addScalar(x, { value: 1.5 }), [2.5, 3.5, 5.5]);
  close(R.mulScalar(x, { value: -2 }), [-2, -4, -8]);
  close(R.powScalar(x, { exponent: 0.5 }), [1, Math.SQRT2, 2]);
  close(R.rsubScalar(x, { value: 10 }), [9, 8, 6]);
  close(R.rdivScalar(x, { value: 8 }), [8, 4, 2]);
  close(R.maximumScalar(x, { value: 2 }), [2, 2, 4]);
  close(R.minimumScalar(x, { value: 2 }), [1, 2, 2]);
  close(R.gtScalar(x, { value: 2 }), [0, 0, 1]);
  close(R.ltScalar(x, { value: 2 }), [1, 0, 0]);
  close(R.eqScalar(x, { value: 2 }), [0, 1, 0]);
  throwsWith(() => R.addScalar(x, {} as { value: number }), 'addScalar', "'value'");
  throwsWith(() => R.powScalar(x, { value: 2 } as unknown as { exponent: number }), 'powScalar', "'exponent'");
});

test('where broadcasts all three inputs', () => {
  const cond = t([1, 0, 0.5], [3]);
  const a = t([1, 2], [2, 1]);
  const b = scalar(-1);
  close(R.where(cond, a, b), [1, -1, 1, 2, -1, 2], [2, 3]);
  throwsWith(() => R.where(t([1, 0], [2]), t([1, 2, 3], [3]), b), 'where', '[2]', '[3]');
});

test('ops do not mutate their inputs', () => {
  const a = t([1, 2, 3], [3]);
  R.add(a, a);
  R.neg(a);
  close(a, [1, 2, 3]);
});

test.run();
