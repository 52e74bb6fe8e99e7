// layerNorm, std and scaledDotProductAttention, composed from recorded ops (mean, square, matmul,
// softmax, …): their gradients and float64 replays come from those ops, so each is a few lines.
// They run several dispatches where a fused kernel would run one; see docs/STATUS.md.

import { Tensor } from '../tensor.ts';
import { fmt } from '../shape.ts';
import { fromArray } from './creation-internal.ts';
import { mean, variance } from './reduce.ts';
import { softmax } from './softmax.ts';
import { dropout } from './linear.ts';
import type { Generator } from '../random.ts';

/**
 * Layer normalisation over the trailing dims `normalizedShape` (as torch.nn.functional.layer_norm):
 * (x − mean) / sqrt(var + eps) with the biased variance, then · weight + bias (both of shape
 * normalizedShape, optional).
 *
 * @example layerNorm(tensor([[1, 2, 3], [2, 2, 5]]), [3]) // each row: mean 0, variance ≈ 1
 */
export function layerNorm(x: Tensor, normalizedShape: number | readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const shape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  const k = shape.length;
  if (k === 0 || k > x.ndim || shape.some((d, i) => x.shape[x.ndim - k + i] !== d)) {
    throw new Error(`layerNorm: normalizedShape ${fmt(shape)} must be the trailing dims of the input ${fmt(x.shape)}`);
  }
  for (const [name, t] of [['weight', weight], ['bias', bias]] as const) {
    if (t && fmt(t.shape) !== fmt(shape)) throw new Error(`layerNorm: ${name} has shape ${fmt(t.shape)}, expected normalizedShape ${fmt(shape)}`);
  }
  const dims = shape.map((_, i) => x.ndim - k + i);
  const centred = x.sub(mean(x, dims, true));
  let y = centred.mul(centred.square().mean(dims, true).add(eps).pow(-0.5));
  if (weight) y = y.mul(weight);
  if (bias) y = y.add(bias);
  return y;
}

/**
 * Standard deviation over `dims` (all by default), as torch.std: `correction` 1 (Bessel, the
 * default) or 0 (`unbiased: false`), `keepdim`.
 *
 * @example std(tensor([1, 2, 3, 4])) // 1.291
 */
export function std(x: Tensor, dims?: number | number[], opts: { keepdim?: boolean; correction?: number; unbiased?: boolean } = {}): Tensor {
  const correction = opts.correction ?? (opts.unbiased === false ? 0 : 1);
  return variance(x, dims, { keepdim: opts.keepdim, correction }).sqrt();
}

/** Options of scaledDotProductAttention (PyTorch's attn_mask, is_causal, scale, dropout_p). */
export interface AttentionOptions {
  /**
   * Added to the scores q·kᵀ·scale before the softmax, broadcast to [..., L, S]: PyTorch's float
   * attn_mask. For PyTorch's boolean mask (true = may attend) pass 0 where true and -Infinity where false.
   */
  mask?: Tensor;
  /** PyTorch's is_causal: query i attends to keys 0..i only (the top-left-aligned lower triangle). */
  causal?: boolean;
  /** Multiplies q·kᵀ; default 1/√E (E the last dim of q). */
  scale?: number;
  /** Dropout on the attention weights (default 0, as PyTorch's dropout_p). */
  dropoutP?: number;
  generator?: Generator;
}

/**
 * softmax(q·kᵀ·scale + mask)·v for q [..., L, E], k [..., S, E], v [..., S, Ev] with broadcast batch
 * dims, as torch.nn.functional.scaled_dot_product_attention. Rows that mask every key give NaN,
 * as in PyTorch.
 *
 * @example
 * const q = randn([2, 4, 5, 8]); // batch, heads, length, head dim
 * scaledDotProductAttention(q, q, q, { causal: true }).shape; // [2, 4, 5, 8]
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  if (q.ndim < 2 || k.ndim < 2 || v.ndim < 2) throw new Error(`scaledDotProductAttention: q, k, v need rank ≥ 2, got ${fmt(q.shape)}, ${fmt(k.shape)}, ${fmt(v.shape)}`);
  const [L, E] = q.shape.slice(-2);
  const [S, Ek] = k.shape.slice(-2);
  if (Ek !== E || v.shape[v.ndim - 2] !== S) {
    throw new Error(`scaledDotProductAttention: q ${fmt(q.shape)}, k ${fmt(k.shape)}, v ${fmt(v.shape)} do not fit: expected q [..., L, E], k [..., S, E], v [..., S, Ev]`);
  }
  if (opts.causal && opts.mask) throw new Error('scaledDotProductAttention: give either mask or causal, not both (as PyTorch)');
  const scale = opts.scale ?? 1 / Math.sqrt(E);
  let scores = q.matmul(k.transpose(-2, -1)).mul(scale);
  if (opts.mask) scores = scores.add(opts.mask);
  if (opts.causal) {
    const m = new Float32Array(L * S);
    for (let i = 0; i < L; i++) for (let j = i + 1; j < S; j++) m[i * S + j] = -Infinity;
    const causal = fromArray(m, [L, S]);
    scores = scores.add(causal);
  }
  let attn = softmax(scores, -1);
  if (opts.dropoutP) attn = dropout(attn, opts.dropoutP, { generator: opts.generator });
  return attn.matmul(v);
}
