// layerNorm, std and scaledDotProductAttention. layerNorm over the last dim is one op (a row pass
// of the rowwise kernel for x̂, one map for the affine; one row pass back); over several trailing
// dims, and std and attention, are composed from recorded ops (mean, matmul, softmax, …), whose
// gradients and float64 replays they inherit.

import { Tensor } from '../tensor.ts';
import { fmt } from '../shape.ts';
import { fromArray } from './creation-internal.ts';
import { mean, variance } from './reduce.ts';
import { softmax } from './softmax.ts';
import { rowwise, type RowKernel } from './codegen/rowwise.ts';
import { map } from './map.ts';
import { record } from '../autograd/graph.ts';
import { sumTo } from './reduce.ts';
import { dropout } from './linear.ts';
import type { Generator } from '../random.ts';

/**
 * Layer normalisation over the trailing dims `normalizedShape` (as torch.nn.functional.layer_norm):
 * (x − mean) / sqrt(var + eps) with the biased variance, then · weight + bias (both of shape
 * normalizedShape, optional).
 *
 * @example layerNorm(tensor([[1, 2, 3], [2, 2, 5]]), [3]) // each row: mean 0, variance ≈ 1
 */
export function layerNorm(
  x: Tensor,
  normalizedShape: number | readonly number[],
  weight?: Tensor | null,
  bias?: Tensor | null,
  eps = 1e-5,
): Tensor {
  const shape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  const k = shape.length;
  if (k === 0 || k > x.ndim || shape.some((d, i) => x.shape[x.ndim - k + i] !== d)) {
    throw new Error(`layerNorm: normalizedShape ${fmt(shape)} must be the trailing dims of the input ${fmt(x.shape)}`);
  }
  for (const [name, t] of [
    ['weight', weight],
    ['bias', bias],
  ] as const) {
    if (t && fmt(t.shape) !== fmt(shape))
      throw new Error(`layerNorm: ${name} has shape ${fmt(t.shape)}, expected normalizedShape ${fmt(shape)}`);
  }
  if (k === 1) return layerNormLastDim(x, weight ?? null, bias ?? null, eps);
  const dims = shape.map((_, i) => x.ndim - k + i);
  const centred = x.sub(mean(x, dims, true));
  let y = centred.mul(centred.square().mean(dims, true).add(eps).pow(-0.5));
  if (weight) y = y.mul(weight);
  if (bias) y = y.add(bias);
  return y;
}

// Row statistics by Welford's update on a − a₀ (a₀ the row's first element, so rows far from 0
// lose no digits): shifted mean m, Σ(a − a₀ − m)² in s. The backward adds Σg and Σg·(a − a₀).
const WELFORD = 'var k = 0.0; var m = 0.0; var s = 0.0;';
const WELFORD_STEP = 'k += 1.0; let d = (a - first_a) - m; m += d / k; s += d * ((a - first_a) - m);';
const RSTD = 'inverseSqrt(s / k + p.eps)';
const LAYER_NORM: RowKernel = { INIT: WELFORD, STEP: WELFORD_STEP, WRITE: `((a - first_a) - m) * ${RSTD}` };
// a = x, b = the gradient of x̂: rstd · (b − mean(b) − x̂ · mean(b · x̂)).
const LAYER_NORM_BACKWARD: RowKernel = {
  INIT: `${WELFORD} var sg = 0.0; var sga = 0.0;`,
  STEP: `${WELFORD_STEP} sg += b; sga += b * (a - first_a);`,
  WRITE: `${RSTD} * (b - sg / k - ((a - first_a) - m) * ${RSTD} * ${RSTD} * (sga - m * sg) / k)`,
};

/** layerNorm over the last dim: x̂ in one row pass, the affine in one map; backward one row pass. */
function layerNormLastDim(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number): Tensor {
  const d = x.ndim - 1;
  const xhat = rowwise('layerNorm', LAYER_NORM, d, x, null, eps);
  let y = xhat;
  if (weight && bias) y = map([xhat, weight, bias], 'x0 * x1 + x2', 'layerNorm (affine)');
  else if (weight) y = map([xhat, weight], 'x0 * x1', 'layerNorm (affine)');
  else if (bias) y = map([xhat, bias], 'x0 + x1', 'layerNorm (affine)');
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  const out = record(y, 'layerNorm', inputs, { eps, hasWeight: !!weight, hasBias: !!bias }, (g) => {
    const gxhat = weight ? map([g, weight], 'x0 * x1', 'layerNorm.backward') : g;
    const gx = rowwise('layerNorm.backward', LAYER_NORM_BACKWARD, d, x, gxhat, eps);
    const grads: (Tensor | null)[] = [gx];
    if (weight) grads.push(sumTo(map([g, xhat], 'x0 * x1', 'layerNorm.backward'), weight.shape));
    if (bias) grads.push(sumTo(g, bias.shape));
    return grads;
  });
  if (y !== xhat && !out.node) xhat.dispose();
  return out;
}

/**
 * Standard deviation over `dims` (all by default), as torch.std: `correction` 1 (Bessel, the
 * default) or 0 (`unbiased: false`), `keepdim`.
 *
 * @example std(tensor([1, 2, 3, 4])) // 1.291
 */
export function std(
  x: Tensor,
  dims?: number | number[],
  opts: { keepdim?: boolean; correction?: number; unbiased?: boolean } = {},
): Tensor {
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
  if (q.ndim < 2 || k.ndim < 2 || v.ndim < 2)
    throw new Error(`scaledDotProductAttention: q, k, v need rank ≥ 2, got ${fmt(q.shape)}, ${fmt(k.shape)}, ${fmt(v.shape)}`);
  const [L, E] = q.shape.slice(-2);
  const [S, Ek] = k.shape.slice(-2);
  if (Ek !== E || v.shape[v.ndim - 2] !== S) {
    throw new Error(
      `scaledDotProductAttention: q ${fmt(q.shape)}, k ${fmt(k.shape)}, v ${fmt(v.shape)} do not fit: expected q [..., L, E], k [..., S, E], v [..., S, Ev]`,
    );
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
