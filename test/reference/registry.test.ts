import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as R from '../../src/reference/index.ts';
import { referenceOps } from '../../src/reference/index.ts';
import { close, scalar, seq, t, throwsWith } from './helpers.ts';

const names = `add sub mul div pow maximum minimum gt lt ge le eq
  neg exp log sqrt abs relu sigmoid tanh square reciprocal
  gelu geluTanh silu leakyRelu elu softplus clamp
  addScalar mulScalar divScalar powScalar rsubScalar rdivScalar maximumScalar minimumScalar gtScalar ltScalar eqScalar
  where fused sum mean max min prod var argmax argmin logsumexp
  reshape permute expand slice contiguous pad2d concat stack indexSelect gather scatterAdd
  matmul linear conv2d maxPool2d avgPool2d adaptiveAvgPool2d batchNorm layerNorm
  softmax logSoftmax crossEntropy nllLoss normalize dropout`.split(/\s+/);

test('every op is registered', () => {
  for (const name of names) assert.type(referenceOps[name], 'function', name);
  assert.equal(Object.keys(referenceOps).sort(), [...names].sort());
});

test('registry calls match direct calls', () => {
  const a = seq([2, 3], 0.3, 0.1);
  const b = seq([3], 0.5, 0.2);
  close(referenceOps.add([a, b], {}), R.add(a, b).data, [2, 3]);
  close(referenceOps.exp([a], {}), R.exp(a).data, [2, 3]);
  close(referenceOps.rsubScalar([a], { value: 2 }), R.rsubScalar(a, { value: 2 }).data, [2, 3]);
  close(referenceOps.var([a], { dims: [1], keepdim: false, correction: 0 }), R.variance(a, { dims: [1], correction: 0 }).data, [2]);
  close(referenceOps.where([t([1, 0, 1], [3]), a, b], {}), R.where(t([1, 0, 1], [3]), a, b).data, [2, 3]);
  close(referenceOps.concat([a, a, a], { dim: 0 }), R.concat([a, a, a], { dim: 0 }).data, [6, 3]);
  const w = seq([4, 3], 0.7, 0);
  close(referenceOps.linear([a, w], {}), R.linear(a, w).data, [2, 4]);
  close(referenceOps.linear([a, w, seq([4], 1, 0)], {}), R.linear(a, w, seq([4], 1, 0)).data, [2, 4]);
  const x = seq([2, 2, 3, 3], 0.2, 0);
  const k = seq([2, 2, 2, 2], 0.3, 0);
  close(
    referenceOps.conv2d([x, k], { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 }),
    R.conv2d(x, k, undefined).data,
    [2, 2, 2, 2],
  );
  close(
    referenceOps.batchNorm([x, seq([2], 1, 1), seq([2], 1, 2)], { eps: 1e-5, groups: 1 }),
    R.batchNorm(x, seq([2], 1, 1), seq([2], 1, 2)).data,
    [2, 2, 3, 3],
  );
  close(
    referenceOps.crossEntropy([a, t([0, 2], [2])], { labelSmoothing: 0.2 }),
    R.crossEntropy(a, t([0, 2], [2]), { labelSmoothing: 0.2 }).data,
    [],
  );
});

test('rank-0 tensors flow through the registry', () => {
  const s = scalar(2);
  close(referenceOps.mul([s, s], {}), [4], []);
  close(referenceOps.sum([s], { dims: [], keepdim: false }), [2], []);
  close(referenceOps.powScalar([s], { exponent: 3 }), [8], []);
  close(referenceOps.expand([s], { shape: [2, 2] }), [2, 2, 2, 2], [2, 2]);
  close(referenceOps.mean([seq([2, 3], 1, 0)], { dims: [], keepdim: false }), R.mean(seq([2, 3], 1, 0)).data, []);
});

test('wrong input counts are reported', () => {
  throwsWith(() => referenceOps.add([scalar(1)], {}), 'add: expected 2 inputs, got 1');
  throwsWith(() => referenceOps.exp([], {}), 'exp: expected 1 inputs, got 0');
  throwsWith(() => referenceOps.conv2d([scalar(1)], {}), 'conv2d: expected 2 to 3 inputs');
  throwsWith(() => referenceOps.concat([], { dim: 0 }), 'concat: expected at least 1 inputs');
});

test.run();
