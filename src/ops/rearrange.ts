// flip, repeat, split, chunk, pad (constant, reflect) and cumsum, composed from recorded ops
// (indexSelect, expand, slice, concat, matmul), so their gradients and float64 replays come from
// those ops. split and chunk return views.

import type { Tensor } from '../tensor.ts';
import { fmt, normalizeDim, normalizeDims } from '../shape.ts';
import { fill, fromArray } from './creation-internal.ts';
import { concat, expand, indexSelect, reshape, slice } from './shape.ts';
import { matmul } from './matmul.ts';

const range = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

/** Reverses the order of elements along `dims` (a copy, as torch.flip). @example flip(tensor([[1, 2], [3, 4]]), [1]) // [[2, 1], [4, 3]] */
export function flip(x: Tensor, dims: number | number[]): Tensor {
  let y = x;
  for (const d of normalizeDims('flip', dims, x.ndim))
    y = indexSelect(
      y,
      d,
      range(x.shape[d], (i) => x.shape[d] - 1 - i),
    );
  return y === x ? reshape(x, x.shape) : y;
}

/**
 * Tiles x `sizes[i]` times along dim i (torch.Tensor.repeat; extra leading sizes add dims).
 *
 * @example repeat(tensor([1, 2]), [2, 3]) // [[1, 2, 1, 2, 1, 2], [1, 2, 1, 2, 1, 2]]
 */
export function repeat(x: Tensor, sizes: readonly number[]): Tensor {
  if (sizes.length < x.ndim)
    throw new Error(`repeat: ${sizes.length} repeat sizes for a rank-${x.ndim} tensor ${fmt(x.shape)}; give at least ${x.ndim}`);
  if (sizes.some((r) => !Number.isInteger(r) || r < 0)) throw new Error(`repeat: sizes ${fmt(sizes)} must be non-negative integers`);
  const shape = [...new Array(sizes.length - x.ndim).fill(1), ...x.shape];
  // [1, d0, 1, d1, …] expanded to [r0, d0, r1, d1, …], then merged pairwise.
  const interleaved = reshape(
    x,
    shape.flatMap((d) => [1, d]),
  );
  const tiled = expand(
    interleaved,
    shape.flatMap((d, i) => [sizes[i], d]),
  );
  return reshape(
    tiled,
    shape.map((d, i) => d * sizes[i]),
  );
}

/**
 * Views of consecutive pieces along dim: of `splitSize` each (the last may be shorter), or of the
 * given sizes (which must add up to the dim), as torch.split.
 *
 * @example split(arange(5), 2).map((t) => t.shape) // [[2], [2], [1]]
 */
export function split(x: Tensor, splitSizeOrSections: number | readonly number[], dim = 0): Tensor[] {
  const d = normalizeDim('split', dim, x.ndim);
  const n = x.shape[d];
  let sizes: number[];
  if (typeof splitSizeOrSections === 'number') {
    const s = splitSizeOrSections;
    if (!Number.isInteger(s) || s <= 0) throw new Error(`split: split size must be a positive integer, got ${s}`);
    sizes = range(Math.max(1, Math.ceil(n / s)), (i) => Math.min(s, n - i * s));
  } else {
    sizes = [...splitSizeOrSections];
    const total = sizes.reduce((a, b) => a + b, 0);
    if (total !== n || sizes.some((s) => !Number.isInteger(s) || s < 0))
      throw new Error(`split: sizes ${fmt(sizes)} must be non-negative integers adding up to ${n} (dim ${d} of ${fmt(x.shape)})`);
  }
  let start = 0;
  return sizes.map((s) => slice(x, d, start, (start += s)));
}

/** `chunks` views along dim of ceil(size / chunks) each (fewer if the size runs out), as torch.chunk. @example chunk(arange(6), 3).length // 3 */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  if (!Number.isInteger(chunks) || chunks <= 0) throw new Error(`chunk: chunks must be a positive integer, got ${chunks}`);
  const d = normalizeDim('chunk', dim, x.ndim);
  return split(x, Math.max(1, Math.ceil(x.shape[d] / chunks)), d);
}

/**
 * Pads the last dims as torch.nn.functional.pad: `pad` = [left, right] for the last dim, then
 * [left, right] for the one before, …; mode 'constant' (filled with value) or 'reflect' (mirrored
 * without repeating the edge; each pad < that dim's size).
 *
 * @example pad(tensor([[1, 2, 3]]), [2, 1], 'reflect') // [[3, 2, 1, 2, 3, 2]]
 */
export function pad(x: Tensor, padding: readonly number[], mode: 'constant' | 'reflect' = 'constant', value = 0): Tensor {
  if (padding.length % 2 !== 0 || padding.length / 2 > x.ndim)
    throw new Error(`pad: padding ${fmt(padding)} must hold a (left, right) pair for each of at most ${x.ndim} last dims`);
  if (padding.some((p) => !Number.isInteger(p) || p < 0)) throw new Error(`pad: padding ${fmt(padding)} must be non-negative integers`);
  if (mode !== 'constant' && mode !== 'reflect') throw new Error(`pad: mode must be 'constant' or 'reflect', got '${mode}'`);
  let y = x;
  for (let k = 0; k < padding.length / 2; k++) {
    const d = x.ndim - 1 - k;
    const [left, right] = [padding[2 * k], padding[2 * k + 1]];
    if (left === 0 && right === 0) continue;
    const n = y.shape[d];
    const parts: Tensor[] = [];
    if (mode === 'reflect') {
      if (left >= n || right >= n)
        throw new Error(`pad: reflect padding (${left}, ${right}) must be smaller than dim ${d}'s size ${n} (input ${fmt(x.shape)})`);
      if (left)
        parts.push(
          indexSelect(
            y,
            d,
            range(left, (i) => left - i),
          ),
        );
      parts.push(y);
      if (right)
        parts.push(
          indexSelect(
            y,
            d,
            range(right, (i) => n - 2 - i),
          ),
        );
    } else {
      const side = (w: number) =>
        fill(
          y.shape.map((s, i) => (i === d ? w : s)),
          value,
        );
      if (left) parts.push(side(left));
      parts.push(y);
      if (right) parts.push(side(right));
    }
    y = concat(parts, d);
  }
  return y === x ? reshape(x, x.shape) : y;
}

/**
 * Running sums along dim (torch.cumsum), as a product with a triangular matrix of ones: O(n²) in
 * the dim's size n, meant for short dims (sequence positions, class counts).
 *
 * @example cumsum(tensor([1, 2, 3]), 0) // [1, 3, 6]
 */
export function cumsum(x: Tensor, dim: number): Tensor {
  if (x.ndim === 0) {
    normalizeDim('cumsum', dim, 1);
    return reshape(x, []);
  }
  const d = normalizeDim('cumsum', dim, x.ndim);
  const n = x.shape[d];
  const upper = fromArray(
    range(n * n, (k) => (Math.floor(k / n) <= k % n ? 1 : 0)),
    [n, n],
  );
  const y = matmul(x.transpose(d, -1), upper).transpose(d, -1);
  return y;
}
