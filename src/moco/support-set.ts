// NNCLR's support set (Dwibedi et al. 2021, §3): a FIFO queue of L2-normalised projections, the
// KeyQueue ring buffer on the GPU plus a fill count. `nearest(z)` returns each row's nearest
// neighbour by cosine similarity (one matmul and an argmax on the GPU, first index on ties). Until
// the queue has been filled once, only the rows written so far are searched (the random
// initial rows are not embeddings of any image); before the first enqueue the positive is z itself.

import { Tensor } from '../tensor.ts';
import { noGrad } from '../autograd/graph.ts';
import { fmt } from '../shape.ts';
import { argmax } from '../ops/reduce.ts';
import { indexSelect, slice, contiguous } from '../ops/shape.ts';
import { KeyQueue } from './queue.ts';
import type { Generator } from '../random.ts';

/**
 * A FIFO support set of `size` unit vectors of size `dim`, searched for nearest neighbours.
 * @example
 * const s = new SupportSet({ size: 8, dim: 4 });
 * s.enqueue(normalize(randn([3, 4])));
 * const { neighbours, indices } = s.nearest(normalize(randn([2, 4]))); // [2, 4] rows of s, indices in 0..2
 */
export class SupportSet {
  readonly queue: KeyQueue;
  /** Rows written so far, at most size (rows 0..filled-1 until the queue wraps). */
  filled = 0;

  constructor(opts: { size: number; dim: number; generator?: Generator }) {
    this.queue = new KeyQueue(opts);
  }

  get size(): number {
    return this.queue.size;
  }

  get dim(): number {
    return this.queue.dim;
  }

  /** Appends a [B, dim] batch of (normalised) embeddings, overwriting the oldest rows. */
  enqueue(z: Tensor): void {
    this.queue.enqueue(z);
    this.filled = Math.min(this.size, this.filled + z.shape[0]);
  }

  /**
   * Nearest neighbour (largest cosine similarity) in the support set of every row of z ([N, dim],
   * L2-normalised): `neighbours` [N, dim] (detached copies of support rows) and `indices` [N] (row
   * numbers as f32; null before the first enqueue, when the neighbours are z itself).
   */
  nearest(z: Tensor): { neighbours: Tensor; indices: Tensor | null } {
    if (z.ndim !== 2 || z.shape[1] !== this.dim) {
      throw new Error(`SupportSet.nearest: embeddings must have shape [N, ${this.dim}] (got ${fmt(z.shape)})`);
    }
    return noGrad(() => {
      if (this.filled === 0) return { neighbours: contiguous(z.detach(), true), indices: null };
      const rows = this.filled === this.size ? this.queue.tensor : slice(this.queue.tensor, 0, 0, this.filled);
      const indices = argmax(z.matmul(rows.transpose(0, 1)), 1);
      return { neighbours: indexSelect(this.queue.tensor, 0, indices), indices };
    });
  }

  /** The rows on the host, row-major size×dim (for tests and checkpoints). */
  async snapshot(): Promise<Float32Array> {
    return this.queue.snapshot();
  }

  /** Restores rows, pointer and fill count (from a checkpoint). */
  load(rows: Tensor, ptr: number, filled: number): void {
    if (!Number.isInteger(filled) || filled < 0 || filled > this.size) {
      throw new Error(`SupportSet.load: fill count ${filled} is out of range 0..${this.size}`);
    }
    if (filled < this.size && ptr !== filled % this.size) {
      throw new Error(`SupportSet.load: a support set filled to ${filled} of ${this.size} rows must have pointer ${filled} (got ${ptr})`);
    }
    this.queue.load(rows, ptr);
    this.filled = filled;
  }

  dispose(): void {
    this.queue.dispose();
  }
}
