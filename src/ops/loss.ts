// Classification losses: crossEntropy (logits, optional label smoothing) and nllLoss
// (log-probabilities), with PyTorch semantics. The mean loss is one row kernel
// (kernels/cross_entropy.wgsl: log-sum-exp, picked score and row sum in one thread per row)
// plus a mean; the gradient is one pointwise kernel (kernels/cross_entropy_backward.wgsl) that
// reuses the saved log-sum-exp. reduction 'none' is composed from recorded ops instead.

import { Tensor } from '../tensor.ts';
import { record } from '../autograd/graph.ts';
import { inside } from '../autograd/anomaly.ts';
import { fmt } from '../shape.ts';
import { UniformLayout } from '../device/uniform-layout.ts';
import { grid } from './grid.ts';
import { fromArray } from './creation-internal.ts';
import { mean, sum } from './reduce.ts';
import { scalarOp, sub } from './elementwise.ts';
import { gather, reshape } from './shape.ts';
import { logSoftmax } from './softmax.ts';

/** How a loss combines its per-sample values: their mean, their sum, or none (one value per sample). */
export type Reduction = 'mean' | 'sum' | 'none';

/** Class indices as an int32 tensor [N]; host values are checked against the number of classes. */
function targetTensor(op: string, targets: Tensor | ArrayLike<number>, scores: Tensor): Tensor {
  const [n, c] = scores.shape;
  if (targets instanceof Tensor) {
    targets.assertAlive(op);
    if (targets.ndim !== 1 || targets.shape[0] !== n)
      throw new Error(`${op}: targets have shape ${fmt(targets.shape)}, expected [${n}] for input ${fmt(scores.shape)}`);
    if (targets.dtype !== 'int32')
      throw new Error(
        `${op}: target tensors must be int32 class indices, got ${targets.dtype}; convert with .int() or build them with { dtype: 'int32' }`,
      );
    return targets;
  }
  if (targets.length !== n) throw new Error(`${op}: ${targets.length} targets for input ${fmt(scores.shape)} (expected ${n})`);
  for (let i = 0; i < n; i++) {
    const v = targets[i];
    if (!Number.isInteger(v) || v < 0 || v >= c)
      throw new Error(
        `${op}: target ${v} at position ${i} is out of range for ${c} classes (input ${fmt(scores.shape)}); targets must be integers in 0..${c - 1}`,
      );
  }
  return fromArray(targets, [n], 'int32');
}

interface Weights {
  soft: number;
  pick: number;
  uni: number;
}

// prettier-ignore
const rowLayout = new UniformLayout(['cross_entropy'], {
  N: 'u32', C: 'u32', x_offset: 'u32', x_row: 'u32', x_col: 'u32', t_offset: 'u32', t_stride: 'u32',
  soft: 'f32', pick: 'f32', uni: 'f32', nan: 'f32',
});

/** The uniform fields both kernels share: sizes, and where the scores and targets are. */
const scoresAndTargets = (x: Tensor, t: Tensor) => {
  const [N, C] = x.shape;
  return { N, C, x_offset: x.offset, x_row: x.strides[0], x_col: x.strides[1], t_offset: t.offset, t_stride: t.strides[0] };
};

/** Per-row losses and log-sum-exps: a [3, N] tensor (losses, row maxima m, log Σ exp(x − m)). */
function rowLosses(label: string, x: Tensor, t: Tensor, k: Weights): Tensor {
  const n = x.shape[0];
  const out = Tensor.empty([3, n], x.device);
  x.device.dispatch({
    kernel: 'cross_entropy',
    buffers: [x.storage.buffer, t.storage.buffer, out.storage.buffer],
    access: 'rrw',
    uniforms: rowLayout.pack({ ...scoresAndTargets(x, t), ...k, nan: NaN }),
    workgroups: grid(Math.ceil(n / 64)),
    label,
    ints: true,
  });
  return out;
}

// prettier-ignore
const backwardLayout = new UniformLayout(['cross_entropy_backward'], {
  N: 'u32', C: 'u32', x_offset: 'u32', x_row: 'u32', x_col: 'u32', t_offset: 'u32', t_stride: 'u32', g_offset: 'u32', g_stride: 'u32',
  scale: 'f32', soft: 'f32', pick: 'f32', uni: 'f32',
});

function lossBackward(label: string, x: Tensor, t: Tensor, stats: Tensor, g: Tensor, scale: number, k: Weights): Tensor {
  const [n, c] = x.shape;
  const out = Tensor.empty([n, c], x.device);
  if (n * c === 0) return out;
  x.device.dispatch({
    kernel: 'cross_entropy_backward',
    buffers: [x.storage.buffer, t.storage.buffer, stats.storage.buffer, g.storage.buffer, out.storage.buffer],
    access: 'rrrrw',
    uniforms: backwardLayout.pack({
      ...scoresAndTargets(x, t),
      g_offset: g.offset,
      g_stride: g.ndim === 0 ? 0 : g.strides[0],
      scale,
      ...k,
    }),
    workgroups: grid(Math.ceil((n * c) / 256)),
    label,
    ints: true,
  });
  return out;
}

/** The mean loss as op `op` (reference: crossEntropy / nllLoss), then the reduction. */
function classLoss(
  op: 'crossEntropy' | 'nllLoss',
  x: Tensor,
  targets: Tensor | ArrayLike<number>,
  k: Weights,
  attrs: Record<string, unknown>,
  reduction: Reduction,
): Tensor {
  const [n] = x.shape;
  const t = targetTensor(op, targets, x);
  const stats = rowLosses(op, x, t, k);
  const losses = new Tensor(stats.storage, [n], [1], stats.offset);
  const m = inside(op, () => mean(losses)); // anomaly detection names `op` for a NaN here
  losses.dispose();
  const out = record(m, op, [x, t], attrs, (g) => [lossBackward(`${op}.backward`, x, t, stats, g, 1 / n, k), null]);
  if (!out.node) {
    stats.dispose();
    if (t !== targets) t.dispose();
  }
  if (reduction === 'mean') return out;
  const total = scalarOp('mulScalar', out, n);
  if (!total.node) out.dispose();
  return total;
}

function checkScores(op: string, x: Tensor, reduction: Reduction): void {
  x.assertAlive(op);
  if (x.dtype !== 'float32') throw new Error(`${op}: input scores must be float32, got ${x.dtype}`);
  if (x.ndim !== 2) throw new Error(`${op}: input must be [N, C] (got shape ${fmt(x.shape)})`);
  if (x.shape[0] === 0 || x.shape[1] === 0) throw new Error(`${op}: input ${fmt(x.shape)} is empty`);
  if (!['mean', 'sum', 'none'].includes(reduction))
    throw new Error(`${op}: reduction must be 'mean', 'sum' or 'none' (got ${JSON.stringify(reduction)})`);
}

/** Row i's −log-probability of target i, [N] (for reduction 'none'). */
function pickedNegLogp(op: string, logp: Tensor, targets: Tensor | ArrayLike<number>): Tensor {
  const t = targetTensor(op, targets, logp);
  const picked = reshape(gather(logp, 1, reshape(t, [logp.shape[0], 1])), [logp.shape[0]]);
  return scalarOp('mulScalar', picked, -1);
}

/**
 * Cross-entropy of logits [N, C] against class indices [N] (an Int32Array / number[], checked,
 * or an int32 tensor; an out-of-range value there gives a NaN loss, which anomaly detection names), as torch.nn.functional.cross_entropy: with label smoothing ε the
 * target distribution is (1 − ε)·onehot + ε/C. reduction: 'mean' (default), 'sum' or 'none' ([N]).
 *
 * @example
 * const logits = randn([4, 10], { requiresGrad: true });
 * const loss = crossEntropy(logits, [3, 1, 0, 9]);
 * loss.backward(); // logits.grad = (softmax(logits) − onehot) / 4
 */
export function crossEntropy(
  logits: Tensor,
  targets: Tensor | ArrayLike<number>,
  opts: { labelSmoothing?: number; reduction?: Reduction } = {},
): Tensor {
  const { labelSmoothing = 0, reduction = 'mean' } = opts;
  checkScores('crossEntropy', logits, reduction);
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1))
    throw new Error(`crossEntropy: labelSmoothing must be in [0, 1], got ${labelSmoothing}`);
  const c = logits.shape[1];
  if (reduction === 'none') {
    const logp = logSoftmax(logits, 1);
    const nll = pickedNegLogp('crossEntropy', logp, targets);
    if (labelSmoothing === 0) return nll;
    const smooth = scalarOp('mulScalar', sum(logp, 1), labelSmoothing / c);
    return sub(scalarOp('mulScalar', nll, 1 - labelSmoothing), smooth);
  }
  return classLoss(
    'crossEntropy',
    logits,
    targets,
    { soft: 1, pick: 1 - labelSmoothing, uni: labelSmoothing / c },
    { labelSmoothing },
    reduction,
  );
}

/** Negative log-likelihood of log-probabilities logp [N, C] at class indices [N] (F.nll_loss). @example nllLoss(logSoftmax(randn([2, 5])), [4, 0]) // = crossEntropy of the same logits */
export function nllLoss(logp: Tensor, targets: Tensor | ArrayLike<number>, opts: { reduction?: Reduction } = {}): Tensor {
  const { reduction = 'mean' } = opts;
  checkScores('nllLoss', logp, reduction);
  if (reduction === 'none') return pickedNegLogp('nllLoss', logp, targets);
  return classLoss('nllLoss', logp, targets, { soft: 0, pick: 1, uni: 0 }, {}, reduction);
}
