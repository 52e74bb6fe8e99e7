/**
 * Neural-network reference ops: batch norm (training, split-batch, eval),
 * softmax / logSoftmax, crossEntropy / nllLoss, normalize, dropout.
 * Most are composed from the elementwise and reduce references.
 */
import { div, exp, log, maximumScalar, sqrt, square, sub } from './elementwise.ts';
import { max, meanOf, sum } from './reduce.ts';
import { type RefTensor, checkIndex, checkTensor, fmt, normDim, numel, refFromFn } from './tensor.ts';

// ---- batch norm ----

export interface BatchNormAttrs {
  /** Default 1e-5. */
  eps?: number;
  /**
   * Split the batch into this many groups, each with its own statistics
   * (default 1). Sample n belongs to group n % groups (interleaved), as in
   * MoCo's SplitBatchNorm, which normalises `x.view(-1, C * groups, H, W)`.
   */
  groups?: number;
  /** 'relu': the output is max(y, 0) (wgrad's fused batch norm + ReLU). */
  activation?: 'relu';
}

export interface BatchStats {
  /** Per-group, per-channel mean, shape [groups, C]. */
  mean: RefTensor;
  /** Biased variance (÷count), shape [groups, C]. */
  var: RefTensor;
  /** Unbiased variance (÷(count−1)), shape [groups, C]; what running_var is updated with. */
  unbiasedVar: RefTensor;
}

/**
 * Values of x [N, C, ...] grouped by (group, channel): entry g·C + c lists
 * every x[n, c, ...] with n % groups = g.
 */
function valuesPerGroupChannel(op: string, x: RefTensor, groups: number): number[][] {
  checkTensor(op, x, 'x');
  if (x.shape.length < 2) throw new Error(`${op}: x must be [N,C] or [N,C,H,W], got ${fmt(x.shape)}`);
  const [n, c] = x.shape;
  if (!Number.isInteger(groups) || groups < 1 || n % groups !== 0) {
    throw new Error(`${op}: batch size ${n} of x ${fmt(x.shape)} is not divisible into groups=${groups}`);
  }
  const spatial = numel(x.shape.slice(2));
  if ((n / groups) * spatial <= 1) {
    throw new Error(`${op}: expected more than 1 value per channel when training, got x ${fmt(x.shape)} with groups=${groups}`);
  }
  const out: number[][] = Array.from({ length: groups * c }, () => []);
  for (let b = 0; b < n; b++) {
    const g = b % groups;
    for (let ch = 0; ch < c; ch++) {
      for (let k = 0; k < spatial; k++) out[g * c + ch].push(x.data[(b * c + ch) * spatial + k]);
    }
  }
  return out;
}

const sqDev = (v: number[]): number => {
  const m = meanOf(v);
  return v.reduce((s, a) => s + (a - m) * (a - m), 0);
};

/** Per-group, per-channel batch statistics of x [N, C, ...]. */
export function batchStats(x: RefTensor, groups = 1): BatchStats {
  return statsFor('batchStats', x, groups);
}

function statsFor(op: string, x: RefTensor, groups: number): BatchStats {
  const vals = valuesPerGroupChannel(op, x, groups);
  const shape = [groups, x.shape[1]];
  return {
    mean: { data: Float64Array.from(vals.map(meanOf)), shape: [...shape] },
    var: { data: Float64Array.from(vals.map((v) => sqDev(v) / v.length)), shape: [...shape] },
    unbiasedVar: { data: Float64Array.from(vals.map((v) => sqDev(v) / (v.length - 1))), shape: [...shape] },
  };
}

function checkChannelParam(op: string, p: RefTensor | undefined, name: string, c: number): void {
  if (p === undefined) return;
  checkTensor(op, p, name);
  if (p.shape.length !== 1 || p.shape[0] !== c) throw new Error(`${op}: ${name} ${fmt(p.shape)} must have shape [${c}]`);
}

/**
 * y = (x − mean) / sqrt(var + eps) · weight + bias, with mean and biased var
 * from the batch (per channel, and per group n % groups when groups > 1).
 * weight / bias may be omitted (1 / 0). With activation 'relu' the result is max(y, 0).
 */
export function batchNorm(x: RefTensor, weight: RefTensor | undefined, bias: RefTensor | undefined, attrs?: BatchNormAttrs): RefTensor {
  const eps = attrs?.eps ?? 1e-5;
  const groups = attrs?.groups ?? 1;
  const act = attrs?.activation;
  if (act !== undefined && act !== 'relu') throw new Error(`batchNorm: unknown activation '${String(act)}' (supported: 'relu')`);
  const { mean, var: v } = statsFor('batchNorm', x, groups);
  const c = x.shape[1];
  checkChannelParam('batchNorm', weight, 'weight', c);
  checkChannelParam('batchNorm', bias, 'bias', c);
  const spatial = numel(x.shape.slice(2));
  return refFromFn(x.shape, (i) => {
    const ch = Math.floor(i / spatial) % c;
    const g = Math.floor(i / (spatial * c)) % groups;
    const s = g * c + ch;
    const xhat = (x.data[i] - mean.data[s]) / Math.sqrt(v.data[s] + eps);
    const y = xhat * (weight?.data[ch] ?? 1) + (bias?.data[ch] ?? 0);
    return act === 'relu' ? Math.max(y, 0) : y;
  });
}

/** Eval-mode batch norm with running statistics [C]. */
export function batchNormEval(
  x: RefTensor,
  runningMean: RefTensor,
  runningVar: RefTensor,
  weight?: RefTensor,
  bias?: RefTensor,
  eps = 1e-5,
): RefTensor {
  checkTensor('batchNormEval', x, 'x');
  if (x.shape.length < 2) throw new Error(`batchNormEval: x must be [N,C] or [N,C,H,W], got ${fmt(x.shape)}`);
  const c = x.shape[1];
  checkTensor('batchNormEval', runningMean, 'runningMean');
  checkTensor('batchNormEval', runningVar, 'runningVar');
  checkChannelParam('batchNormEval', runningMean, 'runningMean', c);
  checkChannelParam('batchNormEval', runningVar, 'runningVar', c);
  checkChannelParam('batchNormEval', weight, 'weight', c);
  checkChannelParam('batchNormEval', bias, 'bias', c);
  const spatial = numel(x.shape.slice(2));
  return refFromFn(x.shape, (i) => {
    const ch = Math.floor(i / spatial) % c;
    const xhat = (x.data[i] - runningMean.data[ch]) / Math.sqrt(runningVar.data[ch] + eps);
    return xhat * (weight?.data[ch] ?? 1) + (bias?.data[ch] ?? 0);
  });
}

// ---- softmax family ----

/** exp(x − max) / Σ exp(x − max) along dim. */
export function softmax(x: RefTensor, attrs: { dim: number }): RefTensor {
  checkTensor('softmax', x);
  const dims = [normDim('softmax', attrs?.dim, x.shape.length)];
  const e = exp(sub(x, max(x, { dims, keepdim: true })));
  return div(e, sum(e, { dims, keepdim: true }));
}

/** (x − max) − log Σ exp(x − max) along dim. */
export function logSoftmax(x: RefTensor, attrs: { dim: number }): RefTensor {
  checkTensor('logSoftmax', x);
  const dims = [normDim('logSoftmax', attrs?.dim, x.shape.length)];
  const shifted = sub(x, max(x, { dims, keepdim: true }));
  return sub(shifted, log(sum(exp(shifted), { dims, keepdim: true })));
}

function checkClassification(op: string, scores: RefTensor, target: RefTensor): [number, number] {
  checkTensor(op, scores, 'input');
  checkTensor(op, target, 'target');
  if (scores.shape.length !== 2 || target.shape.length !== 1 || target.shape[0] !== scores.shape[0]) {
    throw new Error(`${op}: need input [N,C] and target [N], got ${fmt(scores.shape)} and ${fmt(target.shape)}`);
  }
  const [n, c] = scores.shape;
  target.data.forEach((t, i) => checkIndex(op, t, c, `target position ${i}`));
  return [n, c];
}

/** −mean_i logp[i, target_i]; logp [N, C], target [N] integer-valued. */
export function nllLoss(logp: RefTensor, target: RefTensor): RefTensor {
  const [n, c] = checkClassification('nllLoss', logp, target);
  let s = 0;
  for (let i = 0; i < n; i++) s -= logp.data[i * c + target.data[i]];
  return { data: Float64Array.of(s / n), shape: [] };
}

/**
 * Mean cross-entropy of logits [N, C] against class indices [N]. With label
 * smoothing ε (PyTorch): loss_i = (1−ε)·(−logp[i,y_i]) + (ε/C)·Σ_c (−logp[i,c]).
 */
export function crossEntropy(logits: RefTensor, target: RefTensor, attrs?: { labelSmoothing?: number }): RefTensor {
  const [n, c] = checkClassification('crossEntropy', logits, target);
  const eps = attrs?.labelSmoothing ?? 0;
  if (typeof eps !== 'number' || !(eps >= 0 && eps <= 1)) {
    throw new Error(`crossEntropy: labelSmoothing must be in [0, 1], got ${JSON.stringify(eps)}`);
  }
  const logp = logSoftmax(logits, { dim: 1 }).data;
  let total = 0;
  for (let i = 0; i < n; i++) {
    let rowSum = 0;
    for (let k = 0; k < c; k++) rowSum += logp[i * c + k];
    total += -(1 - eps) * logp[i * c + target.data[i]] - (eps / c) * rowSum;
  }
  return { data: Float64Array.of(total / n), shape: [] };
}

// ---- misc ----

/** x / max(‖x‖₂, eps) along dim (F.normalize; dim default 1, eps default 1e-12). */
export function normalize(x: RefTensor, attrs?: { dim?: number; eps?: number }): RefTensor {
  checkTensor('normalize', x);
  const dims = [normDim('normalize', attrs?.dim ?? 1, x.shape.length)];
  const norm = sqrt(sum(square(x), { dims, keepdim: true }));
  return div(x, maximumScalar(norm, { value: attrs?.eps ?? 1e-12 }));
}

/** x · mask / (1 − p), with the 0/1 mask given explicitly; p = 1 gives zeros. */
export function dropout(x: RefTensor, mask: RefTensor, attrs: { p: number }): RefTensor {
  checkTensor('dropout', x, 'x');
  checkTensor('dropout', mask, 'mask');
  if (fmt(x.shape) !== fmt(mask.shape)) {
    throw new Error(`dropout: mask ${fmt(mask.shape)} must have the shape of x ${fmt(x.shape)}`);
  }
  const p = attrs?.p;
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new Error(`dropout: p must be in [0, 1], got ${JSON.stringify(p)}`);
  return refFromFn(x.shape, (i) => (p === 1 ? 0 : (x.data[i] * mask.data[i]) / (1 - p)));
}

/** (x − mean) / sqrt(var + eps) over the last dim (biased variance), then · weight + bias. */
export function layerNorm(x: RefTensor, weight: RefTensor | undefined, bias: RefTensor | undefined, attrs: { eps: number }): RefTensor {
  checkTensor('layerNorm', x);
  if (x.shape.length === 0) throw new Error('layerNorm: input must have rank >= 1');
  const n = x.shape[x.shape.length - 1];
  for (const [name, t] of [
    ['weight', weight],
    ['bias', bias],
  ] as const) {
    if (t && fmt(t.shape) !== fmt([n])) throw new Error(`layerNorm: ${name} ${fmt(t.shape)} must have shape [${n}]`);
  }
  const eps = attrs?.eps ?? 1e-5;
  const out = new Float64Array(x.data.length);
  for (let r = 0; r < x.data.length / Math.max(n, 1); r++) {
    const row = x.data.subarray(r * n, (r + 1) * n);
    const mean = row.reduce((a, b) => a + b, 0) / n;
    const v = row.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    for (let j = 0; j < n; j++)
      out[r * n + j] = ((row[j] - mean) / Math.sqrt(v + eps)) * (weight ? weight.data[j] : 1) + (bias ? bias.data[j] : 0);
  }
  return { data: out, shape: [...x.shape] };
}
