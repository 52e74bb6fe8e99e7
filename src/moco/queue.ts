// The MoCo dictionary: a K×dim ring buffer of L2-normalised keys that stays on the GPU, plus the
// write pointer. `enqueue(keys)` overwrites rows ptr..ptr+B in place (a copy kernel, no readback)
// and advances ptr modulo K. The official code asserts K % B == 0; here a batch that does not
// divide K wraps around to row 0, so the queue always holds the K most recent keys.

import { Tensor } from '../tensor.ts';
import { keep, scoped } from '../scope.ts';
import { noGrad } from '../autograd/graph.ts';
import { randn } from '../creation.ts';
import { fmt } from '../shape.ts';
import { mapInto } from '../ops/map.ts';
import { slice } from '../ops/shape.ts';
import type { Generator } from '../random.ts';

/**
 * MoCo's queue of negatives: K L2-normalised keys of size dim in a GPU ring buffer, with its pointer.
 * @example
 * const q = new KeyQueue({ size: 8, dim: 4 });
 * q.enqueue(randn([3, 4]));
 * q.ptr // 3
 */
export class KeyQueue {
  readonly size: number;
  readonly dim: number;
  /** The [K, dim] keys, row i = slot i. Never requires grad. */
  readonly tensor: Tensor;
  /** Next row to overwrite. */
  ptr = 0;

  constructor(opts: { size: number; dim: number; generator?: Generator }) {
    const { size, dim } = opts;
    if (!Number.isInteger(size) || size < 1 || !Number.isInteger(dim) || dim < 1) {
      throw new Error(`KeyQueue: size (K) and dim must be positive integers (got K=${size}, dim=${dim})`);
    }
    this.size = size;
    this.dim = dim;
    // Official init: random normal, normalised along the feature dim.
    this.tensor = keep(
      scoped(() => {
        const r = randn([size, dim], { generator: opts.generator });
        return r.div(r.square().sum(1, true).sqrt().maximum(1e-12));
      }),
    );
  }

  /** Writes a [B, dim] batch of keys at ptr (wrapping around), ptr += B mod K. */
  enqueue(keys: Tensor): void {
    if (keys.ndim !== 2 || keys.shape[1] !== this.dim) {
      throw new Error(`KeyQueue.enqueue: keys must have shape [B, ${this.dim}] (got ${fmt(keys.shape)})`);
    }
    const B = keys.shape[0];
    if (B > this.size) {
      throw new Error(`KeyQueue.enqueue: a batch of ${B} keys is larger than the queue (K=${this.size}); use K >= batch size`);
    }
    noGrad(() => {
      const first = Math.min(B, this.size - this.ptr);
      this.copyRows(keys, 0, first, this.ptr);
      if (first < B) this.copyRows(keys, first, B, 0);
    });
    this.ptr = (this.ptr + B) % this.size;
  }

  private copyRows(keys: Tensor, from: number, to: number, at: number): void {
    const dst = slice(this.tensor, 0, at, at + (to - from));
    const src = slice(keys, 0, from, to);
    mapInto(dst, [src], 'x0', 'enqueue');
    dst.dispose();
    src.dispose();
  }

  /** The keys on the host, row-major K×dim (for tests and checkpoints). */
  async snapshot(): Promise<Float32Array> {
    return this.tensor.toArray();
  }

  /** Restores keys and pointer (from a checkpoint). */
  load(keys: Tensor, ptr: number): void {
    if (keys.ndim !== 2 || keys.shape[0] !== this.size || keys.shape[1] !== this.dim) {
      throw new Error(
        `KeyQueue.load: saved queue has shape ${fmt(keys.shape)} but this queue is [${this.size}, ${this.dim}]; K and dim must match the checkpoint's config`,
      );
    }
    if (!Number.isInteger(ptr) || ptr < 0 || ptr >= this.size)
      throw new Error(`KeyQueue.load: pointer ${ptr} is out of range 0..${this.size - 1}`);
    noGrad(() => mapInto(this.tensor, [keys], 'x0', 'queue.load'));
    this.ptr = ptr;
  }

  dispose(): void {
    this.tensor.dispose();
  }
}
