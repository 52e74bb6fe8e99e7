// The memory bank of Wu et al. 2018 ("Unsupervised feature learning via non-parametric instance
// discrimination"), the second baseline of MoCo's mechanism comparison (§4.1, Fig. 3): one
// L2-normalised representation per training image, kept on the GPU as an [N, dim] tensor.
// A step draws K random rows as negatives (`sample`), uses the image's own stored row as the
// positive, and afterwards mixes the batch's new queries into their rows (`update`: bank[i] ←
// normalize(m·bank[i] + (1−m)·q_i), m = 0.5 as in the paper's reimplementation) with one
// kernel (kernels/memory_bank_update.wgsl), no readback. Rows are refreshed only when their image
// is seen again, so negatives are up to an epoch old and come from many past encoders: the
// inconsistency MoCo's momentum encoder removes.

import { Tensor } from '../tensor.ts';
import { keep, scoped } from '../scope.ts';
import { noGrad } from '../autograd/graph.ts';
import { randn } from '../creation.ts';
import { fmt } from '../shape.ts';
import { fromArray } from '../ops/creation-internal.ts';
import { indexSelect, contiguous } from '../ops/shape.ts';
import { UniformLayout } from '../device/uniform-layout.ts';
import { grid } from '../ops/grid.ts';
import { mapInto } from '../ops/map.ts';
import { normalize } from '../ops/norm.ts';
import { defaultGenerator, type Generator } from '../random.ts';

// prettier-ignore
const updateLayout = new UniformLayout(['memory_bank_update'], {
  n: 'u32', dim: 'u32', q_offset: 'u32', idx_offset: 'u32', m: 'f32', one_minus_m: 'f32', eps: 'f32', _pad: 'u32',
});

/**
 * Wu et al.'s memory bank: an [N, dim] GPU tensor with one L2-normalised representation per
 * training image, random rows as negatives, momentum updates of the rows of each batch.
 * @example
 * const bank = new MemoryBank({ size: 10, dim: 4, generator: new Generator(0) });
 * const negatives = bank.sample(6); // [6, 4]: 6 random rows (one draw per step)
 * const positives = bank.rows([3, 7]); // the stored rows of images 3 and 7
 * bank.update([3, 7], normalize(randn([2, 4]))); // bank[i] ← normalize(0.5·bank[i] + 0.5·q)
 */
export class MemoryBank {
  readonly size: number;
  readonly dim: number;
  /** The [N, dim] representations, row i = training image i. Never requires grad. */
  readonly tensor: Tensor;
  /** The row indices drawn by the last `sample` call (for tests and debugging). */
  lastSample: Int32Array | null = null;
  private gen: Generator;

  constructor(opts: { size: number; dim: number; generator?: Generator }) {
    const { size, dim } = opts;
    if (!Number.isInteger(size) || size < 1 || !Number.isInteger(dim) || dim < 1) {
      throw new Error(`MemoryBank: size (number of training images) and dim must be positive integers (got size=${size}, dim=${dim})`);
    }
    this.size = size;
    this.dim = dim;
    this.gen = opts.generator ?? defaultGenerator;
    // Random unit vectors, as the queue's initialisation (the original code draws uniform ones).
    this.tensor = keep(scoped(() => normalize(randn([size, dim], { generator: this.gen }))));
  }

  private check(op: string, indices: ArrayLike<number>): void {
    for (let i = 0; i < indices.length; i++) {
      const v = indices[i];
      if (!Number.isInteger(v) || v < 0 || v >= this.size) {
        throw new Error(
          `MemoryBank.${op}: index ${v} (position ${i}) is out of range 0..${this.size - 1} (the bank holds ${this.size} images)`,
        );
      }
    }
  }

  /** K row indices drawn uniformly with replacement from the bank's generator. */
  sampleIndices(K: number): Int32Array {
    if (!Number.isInteger(K) || K < 1) throw new Error(`MemoryBank.sample: K must be a positive integer (got ${K})`);
    const idx = new Int32Array(K);
    for (let i = 0; i < K; i++) idx[i] = this.gen.int(this.size);
    this.lastSample = idx;
    return idx;
  }

  /** K random rows ([K, dim], a detached copy): the negatives of one step, shared by the batch. */
  sample(K: number): Tensor {
    return this.rows(this.sampleIndices(K));
  }

  /** A detached copy of the given rows, [indices.length, dim]. */
  rows(indices: ArrayLike<number>): Tensor {
    this.check('rows', indices);
    return noGrad(() => indexSelect(this.tensor, 0, fromArray(indices, [indices.length], 'int32')));
  }

  /**
   * bank[i] ← normalize(momentum·bank[i] + (1−momentum)·q_j) for i = indices[j], in one dispatch;
   * q: [B, dim] (used detached). Repeated indices are applied in batch order, like sequential updates.
   */
  update(indices: ArrayLike<number>, q: Tensor, momentum = 0.5): void {
    if (q.ndim !== 2 || q.shape[1] !== this.dim || q.shape[0] !== indices.length) {
      throw new Error(
        `MemoryBank.update: q must have shape [${indices.length}, ${this.dim}] for ${indices.length} indices (got ${fmt(q.shape)})`,
      );
    }
    if (!(momentum >= 0 && momentum <= 1)) throw new Error(`MemoryBank.update: momentum must be in [0, 1] (got ${momentum})`);
    this.check('update', indices);
    const n = indices.length;
    if (n === 0) return;
    this.tensor.assertAlive('MemoryBank.update');
    noGrad(() => {
      const qc = contiguous(q);
      const idx = fromArray(Array.from(indices), [n]);
      const u = updateLayout.pack({
        n,
        dim: this.dim,
        q_offset: qc.offset,
        idx_offset: idx.offset,
        m: momentum,
        one_minus_m: 1 - momentum,
        eps: 1e-12,
        _pad: 0,
      });
      this.tensor.device.dispatch({
        kernel: 'memory_bank_update',
        buffers: [qc.storage.buffer, idx.storage.buffer, this.tensor.storage.buffer],
        access: 'rrw',
        uniforms: u,
        workgroups: grid(Math.ceil(n / 64)),
        label: 'MemoryBank.update',
      });
      if (qc !== q) qc.dispose();
      idx.dispose();
    });
  }

  /** The bank on the host, row-major N×dim (for tests and checkpoints). */
  async snapshot(): Promise<Float32Array> {
    return this.tensor.toArray();
  }

  /** Restores the bank (from a checkpoint). */
  load(rows: Tensor): void {
    if (rows.ndim !== 2 || rows.shape[0] !== this.size || rows.shape[1] !== this.dim) {
      throw new Error(
        `MemoryBank.load: saved bank has shape ${fmt(rows.shape)} but this bank is [${this.size}, ${this.dim}]; the training set size and dim must match the checkpoint's config`,
      );
    }
    noGrad(() => mapInto(this.tensor, [rows], 'x0', 'MemoryBank.load'));
  }

  dispose(): void {
    this.tensor.dispose();
  }
}
