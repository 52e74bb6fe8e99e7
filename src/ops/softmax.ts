// softmax and logSoftmax along one dim, numerically stable (max-subtracted), with their backward
// formulas. All four run on the rowwise kernel (src/ops/codegen/rowwise.ts: one thread per row, two
// passes: statistics, then the elements), as do normalize (norm.ts) and layerNorm (attention.ts).

import { Tensor } from '../tensor.ts';
import { record } from '../autograd/graph.ts';
import { normalizeDim } from '../shape.ts';
import { rowwise, type RowKernel } from './codegen/rowwise.ts';

// Online max and Σexp in one pass: when a new maximum appears, the sum so far is rescaled.
// −inf entries (masks) add nothing, so a leading −inf cannot turn the sum into NaN.
const STATS = {
  INIT: 'var m = first_a; var s = 0.0;',
  STEP: 'if (a > m) { s = s * exp(m - a); m = a; } if (a >= -3.4e38) { s += exp(a - m); }',
};
const SOFTMAX: RowKernel = { ...STATS, WRITE: 'exp(a - m) / s' };
const LOG_SOFTMAX: RowKernel = { ...STATS, WRITE: 'a - m - log(s)' };
// Backward, with a = the forward output y and b = the incoming gradient g.
const SOFTMAX_BACKWARD: RowKernel = { INIT: 'var dot = 0.0;', STEP: 'dot += a * b;', WRITE: 'a * (b - dot)' };
const LOG_SOFTMAX_BACKWARD: RowKernel = { INIT: 'var gsum = 0.0;', STEP: 'gsum += b;', WRITE: 'b - exp(a) * gsum' };

/** exp(x − max) / Σ exp(x − max) along dim. @example softmax(tensor([[0, Math.log(3)]])) // [[0.25, 0.75]] */
export function softmax(x: Tensor, dim = -1): Tensor {
  const d = normalizeDim('softmax', dim, x.ndim);
  const y = rowwise('softmax', SOFTMAX, d, x);
  return record(y, 'softmax', [x], { dim: d }, (g) => [rowwise('softmax.backward', SOFTMAX_BACKWARD, d, y, g)]);
}

/** (x − max) − log Σ exp(x − max) along dim. @example logSoftmax(tensor([0, 0])) // [-0.6931, -0.6931] */
export function logSoftmax(x: Tensor, dim = -1): Tensor {
  const d = normalizeDim('logSoftmax', dim, x.ndim);
  const y = rowwise('logSoftmax', LOG_SOFTMAX, d, x);
  return record(y, 'logSoftmax', [x], { dim: d }, (g) => [rowwise('logSoftmax.backward', LOG_SOFTMAX_BACKWARD, d, y, g)]);
}
