// Ops on int32 indices built from gather/indexSelect and their scatter kernel: scatterAdd,
// embedding, oneHot. Index tensors must be int32 (asIndex); host arrays are range-checked.

import { Tensor } from '../tensor.ts';
import { record } from '../autograd/graph.ts';
import { fmt, normalizeDim, numel } from '../shape.ts';
import { eq } from './elementwise.ts';
import { map } from './map.ts';
import { asIndex, flatten, gather, indexSelect, reshape, scatterAddLaunch, unsqueeze } from './shape.ts';
import { fromArray } from './creation-internal.ts';

/**
 * torch.Tensor.scatter_add (out of place): x with src added at the positions `index` names along
 * dim: out[..index[..j..]..] += src[..j..]. index (int32) has src's shape, and src matches x
 * outside dim. Differentiable in x and src.
 *
 * @example
 * scatterAdd(zeros([3]), 0, tensor([0, 2, 0], undefined, { dtype: 'int32' }), tensor([1, 2, 3])); // [4, 0, 2]
 */
export function scatterAdd(x: Tensor, dimArg: number, index: Tensor, src: Tensor): Tensor {
  const dim = normalizeDim('scatterAdd', dimArg, x.ndim);
  asIndex('scatterAdd', index, x.shape[dim]);
  if (
    x.ndim === 0 ||
    index.ndim !== x.ndim ||
    src.ndim !== x.ndim ||
    index.shape.some((d, i) => d !== src.shape[i] || (i !== dim && d !== x.shape[i]))
  ) {
    throw new Error(
      `scatterAdd: index ${fmt(index.shape)} must have src's shape ${fmt(src.shape)}, and both x's shape ${fmt(x.shape)} except along dim ${dim} (rank ≥ 1)`,
    );
  }
  if (src.dtype !== 'float32' || x.dtype !== 'float32')
    throw new Error(`scatterAdd: x and src must be float32, got ${x.dtype} and ${src.dtype}`);
  const m = index.shape[dim];
  const inner = numel(x.shape.slice(dim + 1));
  const strides: [number, number, number] = [m * inner, inner, 1];
  const scattered = scatterAddLaunch('scatterAdd', src, x.shape, dim, index, m, strides);
  const out = map([x, scattered], 'x0 + x1', 'scatterAdd');
  scattered.dispose();
  return record(out, 'scatterAdd', [x, index, src], { dim }, (g) => [g, null, gather(g, dim, index)]);
}

/**
 * Rows of `weight` [num, dim] picked by int32 indices of any shape: out [...input.shape, dim], as
 * torch.nn.functional.embedding. The gradient adds into the picked rows (repeated indices add up).
 *
 * @example
 * const table = randn([10, 4], { requiresGrad: true });
 * embedding(tensor([[1, 2], [9, 1]], undefined, { dtype: 'int32' }), table).shape; // [2, 2, 4]
 */
export function embedding(input: Tensor | ArrayLike<number>, weight: Tensor): Tensor {
  if (weight.ndim !== 2) throw new Error(`embedding: weight must be [numEmbeddings, embeddingDim], got shape ${fmt(weight.shape)}`);
  const index = asIndex('embedding', input, weight.shape[0]);
  const rows = indexSelect(weight, 0, index.ndim === 1 ? index : flatten(index));
  return index.ndim === 1 ? rows : reshape(rows, [...index.shape, weight.shape[1]]);
}

/**
 * One-hot int32 encoding [...x.shape, numClasses] of int32 class indices, as
 * torch.nn.functional.one_hot. numClasses is required: inferring it (PyTorch's −1) would need a
 * readback. Out-of-range values in a tensor give an all-zero row (not checked on the GPU).
 *
 * @example
 * oneHot(tensor([0, 2], undefined, { dtype: 'int32' }), 3); // Int32Array [[1, 0, 0], [0, 0, 1]]
 */
export function oneHot(x: Tensor | ArrayLike<number>, numClasses: number): Tensor {
  if (!Number.isInteger(numClasses) || numClasses < 1)
    throw new Error(`oneHot: numClasses must be a positive integer, got ${numClasses} (wgrad cannot infer it without a readback)`);
  const index = x instanceof Tensor ? asIndex('oneHot', x, numClasses) : asIndex('oneHot', x, numClasses);
  const classes = fromArray(
    Int32Array.from({ length: numClasses }, (_, c) => c),
    [numClasses],
    'int32',
  );
  const out = eq(unsqueeze(index, -1), classes);
  classes.dispose();
  return out;
}
