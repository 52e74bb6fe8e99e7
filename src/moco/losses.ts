// Contrastive losses. infoNCE is MoCo's (Eq. 1 of the paper): logits [q·k+, q·queue] / T and
// cross-entropy against index 0, which is mean(logsumexp(logits) − logits[:, 0]). ntXent (SimCLR)
// and dcl (decoupled contrastive learning), and inBatchInfoNCE (end-to-end), use in-batch negatives.

import type { Tensor } from '../tensor.ts';
import { KeyQueue } from './queue.ts';
import { noGrad } from '../autograd/graph.ts';
import { fmt } from '../shape.ts';
import { concat, slice, contiguous } from '../ops/shape.ts';
import { logsumexp, argmax } from '../ops/reduce.ts';
import { eq } from '../ops/elementwise.ts';
import { fromArray } from '../ops/creation-internal.ts';

/** What infoNCE returns: the loss, the logits and the pretext accuracy. */
export interface ContrastiveOutput {
  /** Scalar mean loss (differentiable). */
  loss: Tensor;
  /** [N, 1 + K] logits, positives in column 0 (for infoNCE). */
  logits: Tensor;
  /** Fraction (0..1) of rows whose largest logit is the positive, as a scalar tensor. */
  accuracy: Tensor;
}

/** Cross-entropy against column `target` of every row: mean(logsumexp(row) − row[target]). */
function crossEntropyAtColumn(logits: Tensor, target: number): Tensor {
  const pos = slice(logits, 1, target, target + 1);
  return logsumexp(logits, 1, true).sub(pos).mean();
}

function accuracyAtColumn(logits: Tensor, target: number): Tensor {
  // + 0·Σ logits: NaN logits make argmax pick column 0 (the positive); the accuracy must be NaN then.
  return noGrad(() => eq(argmax(logits, 1), target).float().mean().add(logits.sum().mul(0)));
}

/**
 * MoCo's InfoNCE. q, k: [N, dim] (L2-normalised); queue: a KeyQueue or a [K, dim] tensor of
 * negatives. k and the queue are treated as constants (no gradient), as in the official code;
 * the queue is copied so that an enqueue before backward() cannot change the gradient.
 * @example
 * const q = normalize(randn([4, 8])), k = normalize(randn([4, 8]));
 * const { loss, accuracy } = infoNCE(q, k, normalize(randn([16, 8])), 0.1);
 * await loss.item() // about ln(17) for random vectors
 */
export function infoNCE(q: Tensor, k: Tensor, queue: KeyQueue | Tensor, T: number): ContrastiveOutput {
  const negatives = queue instanceof KeyQueue ? queue.tensor : queue;
  if (q.ndim !== 2 || !(k.ndim === 2 && k.shape[0] === q.shape[0] && k.shape[1] === q.shape[1])) {
    throw new Error(`infoNCE: q and k must both be [N, dim] (got ${fmt(q.shape)} and ${fmt(k.shape)})`);
  }
  if (negatives.ndim !== 2 || negatives.shape[1] !== q.shape[1]) {
    throw new Error(`infoNCE: queue must be [K, ${q.shape[1]}] to match q's dim (got ${fmt(negatives.shape)})`);
  }
  if (!(T > 0)) throw new Error(`infoNCE: temperature T must be > 0 (got ${T})`);
  const kc = k.detach();
  const negs = noGrad(() => contiguous(negatives, true));
  const lpos = q.mul(kc).sum(1, true); // [N, 1]
  const lneg = q.matmul(negs.transpose(0, 1)); // [N, K]
  const logits = concat([lpos, lneg], 1).div(T);
  return { loss: crossEntropyAtColumn(logits, 0), logits, accuracy: accuracyAtColumn(logits, 0) };
}

/** Similarity matrix of the 2N views z = [z1; z2] with the diagonal pushed to -inf-like values. */
function pairLogits(z1: Tensor, z2: Tensor, T: number): { sim: Tensor; n: number } {
  if (z1.ndim !== 2 || z1.shape[0] !== z2.shape[0] || z1.shape[1] !== z2.shape[1]) {
    throw new Error(`contrastive loss: z1 and z2 must both be [N, dim] (got ${fmt(z1.shape)} and ${fmt(z2.shape)})`);
  }
  const n = z1.shape[0];
  const z = concat([z1, z2], 0);
  const selfMask = noGrad(() => eqIdentity(2 * n));
  const sim = z.matmul(z.transpose(0, 1)).div(T).sub(selfMask.mul(1e9));
  return { sim, n };
}

function eqIdentity(n: number): Tensor {
  const data = new Float32Array(n * n);
  for (let i = 0; i < n; i++) data[i * n + i] = 1;
  return fromArray(data, [n, n]);
}

/** Mask selecting, for row i of the 2N views, its positive partner column (i + N mod 2N). */
function positiveMask(n: number): Tensor {
  const data = new Float32Array(4 * n * n);
  for (let i = 0; i < 2 * n; i++) data[i * 2 * n + ((i + n) % (2 * n))] = 1;
  return fromArray(data, [2 * n, 2 * n]);
}

/**
 * SimCLR's NT-Xent over 2N views: −log exp(s_ij/τ) / Σ_{k≠i} exp(s_ik/τ), averaged.
 * @example
 * await ntXent(normalize(randn([4, 8])), normalize(randn([4, 8])), 0.5).loss.item()
 */
export function ntXent(z1: Tensor, z2: Tensor, T: number): { loss: Tensor; accuracy: Tensor } {
  const { sim, n } = pairLogits(z1, z2, T);
  const pos = sim.mul(positiveMask(n)).sum(1, true);
  const loss = logsumexp(sim, 1, true).sub(pos).mean();
  return { loss, accuracy: partnerAccuracy(sim, n) };
}

/** Fraction of views whose most similar other view is their partner. */
function partnerAccuracy(sim: Tensor, n: number): Tensor {
  const partner = Float32Array.from({ length: 2 * n }, (_, i) => (i + n) % (2 * n));
  return noGrad(() =>
    eq(argmax(sim, 1), fromArray(partner, [2 * n]))
      .float()
      .mean(),
  );
}

/**
 * DCL (Yeh et al. 2021): NT-Xent with the positive removed from the denominator.
 * @example
 * await dcl(normalize(randn([4, 8])), normalize(randn([4, 8])), 0.5).loss.item()
 */
export function dcl(z1: Tensor, z2: Tensor, T: number): { loss: Tensor; accuracy: Tensor } {
  const { sim, n } = pairLogits(z1, z2, T);
  const posMask = positiveMask(n);
  const pos = sim.mul(posMask).sum(1, true);
  const negOnly = sim.sub(posMask.mul(1e9));
  const loss = logsumexp(negOnly, 1, true).sub(pos).mean();
  return { loss, accuracy: partnerAccuracy(sim, n) };
}

/**
 * The end-to-end mechanism's loss (MoCo §4.1, Fig. 3a): every other key of the batch is a
 * negative. logits = q·kᵀ / T ([N, N]), cross-entropy against the diagonal (row i's positive is
 * k_i); gradients flow into q *and* k (both come from the query encoder). Pretext accuracy: the
 * fraction of rows whose largest logit is on the diagonal.
 */
export function inBatchInfoNCE(q: Tensor, k: Tensor, T: number): ContrastiveOutput {
  if (q.ndim !== 2 || !(k.ndim === 2 && k.shape[0] === q.shape[0] && k.shape[1] === q.shape[1])) {
    throw new Error(`inBatchInfoNCE: q and k must both be [N, dim] (got ${fmt(q.shape)} and ${fmt(k.shape)})`);
  }
  if (!(T > 0)) throw new Error(`inBatchInfoNCE: temperature T must be > 0 (got ${T})`);
  const n = q.shape[0];
  const logits = q.matmul(k.transpose(0, 1)).div(T); // [N, N]
  const pos = logits.mul(noGrad(() => eqIdentity(n))).sum(1, true); // the diagonal, [N, 1]
  const loss = logsumexp(logits, 1, true).sub(pos).mean();
  const diag = Float32Array.from({ length: n }, (_, i) => i);
  return {
    loss,
    logits,
    accuracy: noGrad(() =>
      eq(argmax(logits, 1), fromArray(diag, [n]))
        .float()
        .mean(),
    ),
  };
}
