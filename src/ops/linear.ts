// linear (x·Wᵀ + b, as torch.nn.functional.linear) and dropout.
//
// linear reads Wᵀ as a transposed view (the matmul kernels take strides, so no copy) and adds the
// bias, and with `activation: 'relu'` the ReLU, in the matmul kernel's store (its epilogue). dropout draws its keep-mask on the host from a seeded
// Generator, so a seed reproduces the mask; the mask is an input of the recorded op, which lets
// the float64 reference replay exactly the same mask.

import { Tensor } from '../tensor.ts';
import { record } from '../autograd/graph.ts';
import { fmt, numel } from '../shape.ts';
import { map, mapInto } from './map.ts';
import { epilogueFits, matmulRaw } from './matmul.ts';
import { sumTo } from './reduce.ts';
import { viewAs } from './shape.ts';
import { fromArray } from './creation-internal.ts';
import { defaultGenerator, type Generator } from '../random.ts';

/** x [..., in] as a 2-D [rows, in] tensor (a view when contiguous, else a copy). */
function rows2d(x: Tensor): Tensor {
  const src = x.isContiguous ? x : map([x], 'x0', 'contiguous');
  const out = viewAs(src, [numel(x.shape.slice(0, -1)), x.shape[x.ndim - 1]]);
  if (src !== x) src.dispose();
  return out;
}

/** The transpose of a 2-D tensor as a plain view (no autograd node). */
function tview(t: Tensor): Tensor {
  return new Tensor(t.storage, [t.shape[1], t.shape[0]], [t.strides[1], t.strides[0]], t.offset);
}

/** Options of linear: `activation: 'relu'` returns relu(x·Wᵀ + b), fused into the matmul. */
export interface LinearOptions {
  activation?: 'relu';
}

/**
 * y = x·Wᵀ + b for x [..., in], weight [out, in], bias [out] (optional). With `activation: 'relu'`
 * the bias and the ReLU run in the matmul kernel's store (no extra pass), and the backward masks
 * the gradient by y > 0 (records as linear with attribute activation 'relu').
 * @example linear(randn([32, 784]), randn([10, 784]), zeros([10])).shape // [32, 10]
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: LinearOptions = {}): Tensor {
  x.assertAlive('linear');
  weight.assertAlive('linear');
  bias?.assertAlive('linear');
  const { activation } = opts;
  if (activation !== undefined && activation !== 'relu')
    throw new Error(`linear: unknown activation '${String(activation)}' (supported: 'relu')`);
  if (weight.ndim !== 2 || x.ndim === 0 || x.shape[x.ndim - 1] !== weight.shape[1]) {
    throw new Error(`linear: input ${fmt(x.shape)} and weight ${fmt(weight.shape)} do not fit (need input [..., in], weight [out, in])`);
  }
  const outF = weight.shape[0];
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== outF))
    throw new Error(`linear: bias ${fmt(bias.shape)} must have shape [${outF}] for weight ${fmt(weight.shape)}`);
  const x2 = rows2d(x);
  const wt = tview(weight);
  // Bias and activation in the kernel's epilogue; a bias view it cannot index gets its own pass.
  const fused = !bias || epilogueFits(bias, outF);
  const y2 = matmulRaw(x2, wt, 'linear', fused ? { bias, activation } : {});
  wt.dispose();
  if (!fused) mapInto(y2, [y2, bias!], activation ? 'max(x0 + x1, 0.0)' : 'x0 + x1', 'linear bias');
  const y = viewAs(y2, [...x.shape.slice(0, -1), outF]);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  const out = record(y, 'linear', inputs, activation ? { activation } : {}, (gy) => {
    let g2 = rows2d(gy);
    if (activation) {
      const masked = map([g2, y2], 'select(0.0, x0, x1 > 0.0)', 'linear.backward (relu)');
      g2.dispose();
      g2 = masked;
    }
    const gx2 = matmulRaw(g2, weight, 'linear.backward');
    const gx = viewAs(gx2, x.shape);
    gx2.dispose();
    const g2t = tview(g2);
    const gw = matmulRaw(g2t, x2, 'linear.backward');
    const gb = bias ? sumTo(g2, [outF]) : null;
    g2t.dispose();
    g2.dispose();
    return [gx, gw, gb];
  });
  // y2 (the output's storage) stays with the backward for the ReLU mask.
  if (!out.node || !activation) y2.dispose();
  if (!out.node) x2.dispose();
  return out;
}

/**
 * Zeroes each element with probability p and scales the rest by 1/(1 − p) (training); the
 * identity when !training or p = 0. The mask comes from `generator` (default: the global one,
 * seeded by manualSeed).
 *
 * @example
 * dropout(ones([8]), 0.5);                      // each element 0 or 2
 * dropout(ones([8]), 0.5, { training: false }); // unchanged
 */
export function dropout(x: Tensor, p: number, opts: { training?: boolean; generator?: Generator } = {}): Tensor {
  x.assertAlive('dropout');
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout: p must be in [0, 1], got ${p}`);
  if (opts.training === false || p === 0) return x;
  const g = opts.generator ?? defaultGenerator;
  const keepMask = new Float32Array(x.size);
  for (let i = 0; i < keepMask.length; i++) keepMask[i] = g.uniform() >= p ? 1 : 0;
  const mask = fromArray(keepMask, x.shape);
  const scale = p === 1 ? 0 : 1 / (1 - p);
  const y = map([x, mask], 'x0 * x1 * p.a', 'dropout', scale);
  const out = record(y, 'dropout', [x, mask], { p }, (grad) => [map([grad, mask], 'x0 * x1 * p.a', 'dropout.backward', scale), null]);
  if (!out.node) mask.dispose();
  return out;
}
