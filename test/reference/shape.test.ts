import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as R from '../../src/reference/index.ts';
import { close, scalar, seq, t, throwsWith } from './helpers.ts';

const m = t([1, 2, 3, 4, 5, 6], [2, 3]);

test('reshape keeps row-major order and infers -1', () => {
  close(R.reshape(m, { shape: [3, 2] }), [1, 2, 3, 4, 5, 6], [3, 2]);
  close(R.reshape(m, { shape: [-1] }), [1, 2, 3, 4, 5, 6], [6]);
  close(R.reshape(scalar(3), { shape: [1, 1] }), [3], [1, 1]);
  close(R.reshape(t([3], [1, 1]), { shape: [] }), [3], []);
  throwsWith(() => R.reshape(m, { shape: [4] }), 'reshape', '[2,3]', '[4]');
  const r = R.reshape(m, { shape: [6] });
  r.data[0] = 100; // output never aliases the input
  assert.is(m.data[0], 1);
});

test('permute: transpose and a rank-4 permutation', () => {
  close(R.permute(m, { dims: [1, 0] }), [1, 4, 2, 5, 3, 6], [3, 2]);
  const x = seq([2, 3, 4, 5], 0.1, 0);
  const y = R.permute(x, { dims: [2, 0, 3, 1] });
  assert.equal(y.shape, [4, 2, 5, 3]);
  for (let a = 0; a < 2; a++)
    for (let b = 0; b < 3; b++)
      for (let c = 0; c < 4; c++)
        for (let d = 0; d < 5; d++) assert.is(y.data[((c * 2 + a) * 5 + d) * 3 + b], x.data[((a * 3 + b) * 4 + c) * 5 + d]);
  throwsWith(() => R.permute(m, { dims: [0, 0] }), 'permute', 'not a permutation');
  throwsWith(() => R.permute(m, { dims: [0] }), 'permute', '[2,3]');
});

test('expand adds leading dims and repeats size-1 dims', () => {
  close(R.expand(t([1, 2], [2, 1]), { shape: [2, 2, 3] }), [1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2], [2, 2, 3]);
  close(R.expand(t([1, 2], [2, 1]), { shape: [-1, 2] }), [1, 1, 2, 2], [2, 2]);
  close(R.expand(scalar(5), { shape: [2] }), [5, 5], [2]);
  throwsWith(() => R.expand(t([1, 2], [2]), { shape: [3] }), 'expand', '[2]', '[3]');
});

test('slice with step, empty result', () => {
  const x = t([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [2, 5]);
  close(R.slice(x, { dim: 1, start: 1, end: 5, step: 2 }), [1, 3, 6, 8], [2, 2]);
  close(R.slice(x, { dim: 1, start: 0, end: 5, step: 3 }), [0, 3, 5, 8], [2, 2]);
  close(R.slice(x, { dim: 0, start: 1, end: 2, step: 1 }), [5, 6, 7, 8, 9], [1, 5]);
  close(R.slice(x, { dim: 1, start: 2, end: 2, step: 1 }), [], [2, 0]);
  throwsWith(() => R.slice(x, { dim: 1, start: 0, end: 6, step: 1 }), 'slice', 'end 6', '[2,5]');
  throwsWith(() => R.slice(x, { dim: 1, start: 0, end: 5, step: 0 }), 'slice', 'step 0');
});

test('contiguous is an identity copy', () => {
  const c = R.contiguous(m);
  close(c, m.data, [2, 3]);
  assert.ok(c.data !== m.data);
});

test('pad2d pads the last two dims', () => {
  const x = t([1, 2, 3, 4], [1, 2, 2]);
  close(R.pad2d(x, { padding: [1, 0, 0, 2], value: -1 }), [-1, -1, -1, -1, 1, 2, -1, -1, 3, 4, -1, -1], [1, 3, 4]);
  close(R.pad2d(t([7], [1, 1]), { padding: [0, 1, 1, 0] }), [0, 7, 0, 0], [2, 2]);
  throwsWith(() => R.pad2d(t([1], [1]), { padding: [1, 1, 1, 1] }), 'pad2d', 'rank >= 2');
});

test('concat and stack', () => {
  const a = t([1, 2, 3, 4], [2, 2]);
  const b = t([5, 6], [1, 2]);
  close(R.concat([a, b], { dim: 0 }), [1, 2, 3, 4, 5, 6], [3, 2]);
  close(R.concat([a, t([9, 8], [2, 1]), a], { dim: 1 }), [1, 2, 9, 1, 2, 3, 4, 8, 3, 4], [2, 5]);
  throwsWith(() => R.concat([a, b], { dim: 1 }), 'concat', '[2,2]', '[1,2]');
  close(R.stack([t([1, 2], [2]), t([3, 4], [2])], { dim: 0 }), [1, 2, 3, 4], [2, 2]);
  close(R.stack([t([1, 2], [2]), t([3, 4], [2])], { dim: 1 }), [1, 3, 2, 4], [2, 2]);
  close(R.stack([scalar(1), scalar(2)], { dim: 0 }), [1, 2], [2]);
  throwsWith(() => R.stack([a, b], { dim: 0 }), 'stack', '[2,2]', '[1,2]');
});

test('indexSelect picks whole slices, repeats allowed', () => {
  const x = t([1, 2, 3, 4, 5, 6], [3, 2]);
  close(R.indexSelect(x, t([2, 0, 2], [3]), { dim: 0 }), [5, 6, 1, 2, 5, 6], [3, 2]);
  close(R.indexSelect(x, t([1], [1]), { dim: 1 }), [2, 4, 6], [3, 1]);
  throwsWith(() => R.indexSelect(x, t([3], [1]), { dim: 0 }), 'indexSelect', 'index 3');
  throwsWith(() => R.indexSelect(x, t([0.5], [1]), { dim: 0 }), 'indexSelect', 'index 0.5');
});

test('gather follows torch.gather (example from the PyTorch docs)', () => {
  // torch.gather(torch.tensor([[1, 2], [3, 4]]), 1, torch.tensor([[0, 0], [1, 0]])) = [[1, 1], [4, 3]]
  const x = t([1, 2, 3, 4], [2, 2]);
  close(R.gather(x, t([0, 0, 1, 0], [2, 2]), { dim: 1 }), [1, 1, 4, 3], [2, 2]);
  // dim 0: out[i][j] = x[index[i][j]][j]; index may be smaller than x
  close(R.gather(t([1, 2, 3, 4, 5, 6], [3, 2]), t([2, 0], [1, 2]), { dim: 0 }), [5, 2], [1, 2]);
  throwsWith(() => R.gather(x, t([0, 2], [1, 2]), { dim: 1 }), 'gather', 'index 2');
  throwsWith(() => R.gather(x, t([0, 0], [2]), { dim: 0 }), 'gather', '[2]', '[2,2]');
});

test.run();
