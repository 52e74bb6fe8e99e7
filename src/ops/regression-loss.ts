// Losses composed from recorded pointwise ops and reductions (mseLoss, l1Loss, smoothL1Loss,
// binaryCrossEntropyWithLogits, klDiv), with PyTorch's formulas, argument names, defaults and
// reductions. Being compositions, their gradients and float64 replays come from the ops they use.

import type { Tensor } from '../tensor.ts';
import { fmt } from '../shape.ts';
import { softplus, where } from './elementwise.ts';
import { mean, sum } from './reduce.ts';
import type { Reduction } from './loss.ts';

function checkPair(op: string, input: Tensor, target: Tensor, reduction: string, allowed = ['mean', 'sum', 'none']): void {
  input.assertAlive(op);
  target.assertAlive(op);
  if (!allowed.includes(reduction))
    throw new Error(`${op}: reduction must be ${allowed.map((r) => `'${r}'`).join(', ')} (got ${JSON.stringify(reduction)})`);
  if (input.shape.length !== target.shape.length || input.shape.some((d, i) => d !== target.shape[i])) {
    throw new Error(
      `${op}: input ${fmt(input.shape)} and target ${fmt(target.shape)} must have the same shape (PyTorch would broadcast with a warning; expand the target explicitly if that is meant)`,
    );
  }
}

function reduce(loss: Tensor, reduction: Reduction): Tensor {
  return reduction === 'mean' ? mean(loss) : reduction === 'sum' ? sum(loss) : loss;
}

/**
 * Squared error (input − target)², reduced by its mean (default), sum, or not ('none').
 *
 * @example mseLoss(tensor([1, 2]), tensor([0, 4])) // 2.5
 */
export function mseLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  const { reduction = 'mean' } = opts;
  checkPair('mseLoss', input, target, reduction);
  return reduce(input.sub(target).square(), reduction);
}

/**
 * Absolute error |input − target|, reduced by its mean (default), sum, or 'none'.
 *
 * @example l1Loss(tensor([1, 2]), tensor([0, 4])) // 1.5
 */
export function l1Loss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  const { reduction = 'mean' } = opts;
  checkPair('l1Loss', input, target, reduction);
  return reduce(input.sub(target).abs(), reduction);
}

/**
 * Huber-like loss: 0.5·d²/beta where |d| < beta, |d| − 0.5·beta elsewhere (d = input − target;
 * beta 1 by default, beta 0 is l1Loss), as torch.nn.functional.smooth_l1_loss.
 *
 * @example smoothL1Loss(tensor([0.5, 3]), tensor([0, 0])) // (0.125 + 2.5) / 2 = 1.3125
 */
export function smoothL1Loss(input: Tensor, target: Tensor, opts: { reduction?: Reduction; beta?: number } = {}): Tensor {
  const { reduction = 'mean', beta = 1 } = opts;
  checkPair('smoothL1Loss', input, target, reduction);
  if (!(beta >= 0)) throw new Error(`smoothL1Loss: beta must be >= 0, got ${beta}`);
  const d = input.sub(target);
  if (beta === 0) return reduce(d.abs(), reduction);
  const ad = d.abs();
  const small = ad.lt(beta);
  return reduce(where(small, d.square().mul(0.5 / beta), ad.sub(0.5 * beta)), reduction);
}

/**
 * Binary cross-entropy of logits x against targets t in [0, 1], computed stably as
 * (1 − t)·x + (1 + (posWeight − 1)·t)·softplus(−x), times `weight` if given (both broadcast
 * against the input, posWeight along the last dimension as PyTorch's pos_weight).
 *
 * @example binaryCrossEntropyWithLogits(tensor([0, 2]), tensor([1, 0])) // (0.6931 + 2.1269) / 2 = 1.41
 */
export function binaryCrossEntropyWithLogits(
  input: Tensor,
  target: Tensor,
  opts: { weight?: Tensor; posWeight?: Tensor; reduction?: Reduction } = {},
): Tensor {
  const { reduction = 'mean', weight, posWeight } = opts;
  checkPair('binaryCrossEntropyWithLogits', input, target, reduction);
  const sp = softplus(input.neg());
  const logWeight = posWeight ? posWeight.sub(1).mul(target).add(1) : null;
  let loss = target
    .neg()
    .add(1)
    .mul(input)
    .add(logWeight ? logWeight.mul(sp) : sp);
  if (weight) loss = loss.mul(weight);
  return reduce(loss, reduction);
}

/**
 * Kullback–Leibler divergence as torch.nn.functional.kl_div: `input` holds log-probabilities,
 * `target` probabilities (or log-probabilities with logTarget); pointwise t·(log t − input), 0
 * where t = 0. reduction 'mean' (default, PyTorch's: over every element), 'batchmean' (sum / batch
 * size: the true KL divergence per sample), 'sum' or 'none'.
 *
 * @example klDiv(tensor([[0.5, 0.5]]).log(), tensor([[0.9, 0.1]]), { reduction: 'batchmean' }) // 0.368
 */
export function klDiv(input: Tensor, target: Tensor, opts: { reduction?: Reduction | 'batchmean'; logTarget?: boolean } = {}): Tensor {
  const { reduction = 'mean', logTarget = false } = opts;
  checkPair('klDiv', input, target, reduction, ['mean', 'batchmean', 'sum', 'none']);
  let loss: Tensor;
  if (logTarget) loss = target.exp().mul(target.sub(input));
  else {
    // t·log t with 0·log 0 = 0 (torch.xlogy): log of t where t > 0, of 1 elsewhere.
    const safe = target.add(target.le(0));
    loss = target.mul(safe.log()).sub(target.mul(input));
  }
  if (reduction === 'batchmean') return input.ndim === 0 ? sum(loss) : sum(loss).div(input.shape[0]);
  return reduce(loss, reduction);
}
