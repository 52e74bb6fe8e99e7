// Sorting along one dim on the GPU: sort, argsort, topk. The rows (the lines along dim) are copied
// into a [rows, P] key buffer padded to a power of two, with an int32 index buffer beside it
// (kernels/sort_init.wgsl), and a bitonic network sorts both (kernels/bitonic_sort.wgsl, one
// dispatch per stage). The indices come back int32; the values are gather(x, dim, indices), so
// their gradient is gather's (the incoming gradient scattered back to the picked positions), as
// PyTorch's sort/topk backward.

import { Tensor } from '../tensor.ts';
import { fmt, normalizeDim, numel } from '../shape.ts';
import { UniformLayout } from '../device/uniform-layout.ts';
import { grid } from './grid.ts';
import { contiguous, gather, permute, reshape, slice } from './shape.ts';

const WG = 256;
const initLayout = new UniformLayout(['sort_init'], { rows: 'u32', n: 'u32', P: 'u32', offset: 'u32' });
const stageLayout = new UniformLayout(['bitonic_sort'], { rows: 'u32', P: 'u32', k: 'u32', j: 'u32', descending: 'u32' });

/** Indices [...x.shape without dim, k] of the first k elements of each row of x along dim, in sort order. */
function sortedIndices(op: string, x: Tensor, dim: number, descending: boolean, k: number): Tensor {
  x.assertAlive(op);
  if (x.dtype !== 'float32')
    throw new Error(`${op}: sorts float32 tensors, got ${x.dtype} (shape ${fmt(x.shape)}); convert with .float() first`);
  const shape = x.ndim === 0 ? [1] : x.shape;
  const n = shape[dim];
  const order = [...shape.keys()].filter((d) => d !== dim).concat(dim);
  const moved = contiguous(permute(x.ndim === 0 ? reshape(x, [1]) : x, order));
  const rows = numel(shape) / Math.max(n, 1);
  const P = 2 ** Math.ceil(Math.log2(Math.max(n, 1)));
  const keys = Tensor.empty([rows, P], x.device);
  const idx = Tensor.empty([rows, P], x.device, 'int32');
  if (rows * n > 0) {
    x.device.dispatch({
      kernel: 'sort_init',
      buffers: [moved.storage.buffer, keys.storage.buffer, idx.storage.buffer],
      access: 'rww',
      uniforms: initLayout.pack({ rows, n, P, offset: moved.offset }),
      workgroups: grid(Math.ceil((rows * P) / WG)),
      label: op,
      ints: true,
    });
    for (let size = 2; size <= P; size *= 2) {
      for (let j = size / 2; j >= 1; j /= 2) {
        x.device.dispatch({
          kernel: 'bitonic_sort',
          buffers: [keys.storage.buffer, idx.storage.buffer],
          access: 'ww',
          uniforms: stageLayout.pack({ rows, P, k: size, j, descending: descending ? 1 : 0 }),
          workgroups: grid(Math.ceil((rows * P) / 2 / WG)),
          label: op,
          ints: true,
        });
      }
    }
  }
  if (moved !== x) moved.dispose();
  keys.dispose();
  // The first k columns, put back in x's dim order.
  const first = reshape(contiguous(slice(idx, 1, 0, k), true), [...order.slice(0, -1).map((d) => shape[d]), k]);
  idx.dispose();
  const back = order.map((_, i) => order.indexOf(i));
  const out = contiguous(permute(first, back));
  if (out !== first) first.dispose();
  return x.ndim === 0 ? reshape(out, []) : out;
}

/** values = x gathered at `indices` along dim (differentiable); rank 0 handled as in PyTorch. */
function valuesAt(x: Tensor, dim: number, indices: Tensor): Tensor {
  if (x.ndim === 0) return reshape(gather(reshape(x, [1]), 0, reshape(indices, [1])), []);
  return gather(x, dim, indices);
}

/**
 * Sorts x along dim (default −1), ascending unless `descending`, as torch.sort: returns the sorted
 * values (differentiable) and their int32 indices into x. Stable: equal values keep their order.
 * NaN sorts as larger than every number.
 *
 * @example
 * const { values, indices } = sort(tensor([[3, 1, 2], [0, 5, 5]]), 1, true);
 * // values [[3, 2, 1], [5, 5, 0]], indices Int32Array [[0, 2, 1], [1, 2, 0]]
 */
export function sort(x: Tensor, dim = -1, descending = false): { values: Tensor; indices: Tensor } {
  const d = normalizeDim('sort', dim, x.ndim);
  const n = x.ndim === 0 ? 1 : x.shape[d];
  const indices = sortedIndices('sort', x, d, descending, n);
  return { values: valuesAt(x, d, indices), indices };
}

/**
 * The int32 indices that sort x along dim (default −1), as torch.argsort.
 *
 * @example
 * argsort(tensor([3, 1, 2])); // Int32Array [1, 2, 0]
 */
export function argsort(x: Tensor, dim = -1, descending = false): Tensor {
  const d = normalizeDim('argsort', dim, x.ndim);
  return sortedIndices('argsort', x, d, descending, x.ndim === 0 ? 1 : x.shape[d]);
}

/**
 * The k largest (or, with largest = false, smallest) elements along dim (default −1), sorted, as
 * torch.topk: values (differentiable) and int32 indices. Ties keep index order.
 *
 * @example
 * const { values, indices } = topk(tensor([1, 9, 3, 7]), 2); // values [9, 7], indices Int32Array [1, 3]
 */
export function topk(x: Tensor, k: number, dim = -1, largest = true): { values: Tensor; indices: Tensor } {
  const d = normalizeDim('topk', dim, x.ndim);
  const n = x.ndim === 0 ? 1 : x.shape[d];
  if (!Number.isInteger(k) || k < 0 || k > n)
    throw new Error(`topk: k = ${k} is out of range for dim ${d} of size ${n} (shape ${fmt(x.shape)}); k must be an integer in 0..${n}`);
  const indices = sortedIndices('topk', x, d, largest, k);
  return { values: valuesAt(x, d, indices), indices };
}
