/**
 * BatchLoader: seeded, shuffled batches of an ImageDataset on the GPU, optionally augmented
 * (src/data/augment.ts), with the next batch prepared while the caller trains on this one.
 *
 *   const loader = new BatchLoader(ds, { batchSize: 256, seed: 1, augment: {} });  // MoCo v2 views
 *   for (const batch of loader.epoch()) {
 *     const [xq, xk] = batch.views;
 *     ...record the step...; await loss.item();
 *   }
 *
 * Order: epoch e visits the dataset in the permutation drawn from Generator(hash(seed, e)), cut
 * into `length` batches (dropLast drops the short tail; otherwise the last batch is smaller).
 * Augmentation parameters of batch (e, i) come from Generator(hash(seed, e, i)), so a seed
 * repeats a run exactly whatever the prefetching did, and training can resume at any batch.
 *
 * Prefetch, and the overlap it buys: `next()` returns a batch prepared earlier and schedules the
 * preparation of the following one as a macrotask (setImmediate). It runs when the caller next
 * yields to the event loop, which in a training loop is while it awaits the step's result
 * (`await loss.item()`): the step has been submitted, the GPU works on it, and meanwhile the
 * host converts the next images to f32, uploads them (queue.writeBuffer), records the
 * augmentation dispatches and submits them, so they run on the GPU right behind the step. The
 * GPU itself executes in order, so GPU work never overlaps GPU work; what overlaps is the host
 * side (index gathering, uint8 → f32, upload, command recording) with the GPU running the step.
 * If the caller never yields, next() prepares the batch synchronously: same result, no overlap.
 *
 * Ownership: a batch's tensors are outside every tidy() scope and are disposed by the loader
 * when the next batch is taken (clone() what must live longer), or set autoDispose: false and
 * call batch.dispose() yourself. close() drops the prefetched batch.
 */

import type { Tensor } from '../tensor.ts';
import { tensor } from '../creation.ts';
import { keep } from '../scope.ts';
import { Generator } from '../random.ts';
import { type ImageDataset, toFloat } from './dataset.ts';
import { type AugmentConfig, augmentWithParams, resolveAugment, sampleAugmentParams } from './augment.ts';

/** Options of BatchLoader: batch size, seed, shuffling, labels, augmentation and prefetching. */
export interface BatchLoaderOptions {
  batchSize: number;
  /** Seeds the shuffling and the augmentation (default 0). */
  seed?: number;
  /** Shuffle every epoch (default true); false visits images in dataset order. */
  shuffle?: boolean;
  /** Drop the last batch of an epoch when it is short (default true, as MoCo needs equal batches). */
  dropLast?: boolean;
  /** Also return the class labels (host Int32Array and an f32 tensor [B]); default false. */
  labels?: boolean;
  /** Augment each batch into `views` views with this config (default: no augmentation). */
  augment?: AugmentConfig | null;
  /** Augmented views per batch: 2 (MoCo's query and key views, the default) or 1. */
  views?: 1 | 2;
  /** Prepare the next batch in the background (default true). */
  prefetch?: boolean;
  /** Dispose the previous batch when the next is taken (default true). */
  autoDispose?: boolean;
}

/** One batch from BatchLoader: its images (and views / labels) on the GPU and where it came from. */
export interface Batch {
  epoch: number;
  /** Position within the epoch, 0 .. loader.length − 1. */
  index: number;
  /** Dataset indices of the images, in batch order. */
  indices: Int32Array;
  /** The images [B, C, H, W], f32 in [0, 1]. */
  images: Tensor;
  /** Augmented views [B, C, outH, outW] (empty without `augment`). */
  views: Tensor[];
  /** Labels (with `labels: true`). */
  labels?: Int32Array;
  /** Labels as int32 [B] on the GPU (with `labels: true`). */
  labelTensor?: Tensor;
  dispose(): void;
}

/** 32-bit mix of a few integers (murmur3 finaliser per step), for per-epoch / per-batch seeds. */
export function hashSeed(...parts: number[]): number {
  let h = 0x2f6b1d3a;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x9e3779b1);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

export const later: (fn: () => void) => () => void =
  typeof setImmediate === 'function'
    ? (fn) => {
        const id = setImmediate(fn);
        return () => clearImmediate(id);
      }
    : (fn) => {
        const id = setTimeout(fn, 0);
        return () => clearTimeout(id);
      };

/**
 * Seeded, shuffled batches of an ImageDataset on the GPU (optionally augmented into one or two
 * views, optionally with labels), the next batch prepared while the caller awaits this step's
 * result. A seed fixes the order and the augmentation of every batch. See the file header.
 *
 * @example
 * const ds = { name: 'toy', images: new Uint8Array(256 * 28 * 28), labels: new Uint8Array(256), count: 256,
 *   channels: 1, height: 28, width: 28, classes: ['a', 'b'] }; // or loadFashionMnist({ split: 'train' }) from 'wgrad/data'
 * const loader = new BatchLoader(ds, { batchSize: 64, seed: 1, labels: true, augment: {} });
 * for (const batch of loader.epoch()) {
 *   const [xq, xk] = batch.views;          // two augmented views [64, 1, 28, 28]
 *   await batch.labelTensor!.float().sum().item(); // yield to the event loop: the next batch is prepared
 * }
 * loader.close();
 */
export class BatchLoader {
  readonly batchSize: number;
  /** Batches per epoch. */
  readonly length: number;
  private readonly seed: number;
  private readonly opts: Required<Omit<BatchLoaderOptions, 'augment'>> & { augment: AugmentConfig | null };
  private epochNow = 0;
  private indexNow = 0;
  private order: Int32Array | null = null;
  private orderEpoch = -1;
  private ready: Batch | null = null;
  private cancel: (() => void) | null = null;
  private failure: unknown = null;
  private current: Batch | null = null;
  private closed = false;

  constructor(
    readonly dataset: ImageDataset,
    options: BatchLoaderOptions,
  ) {
    const b = options.batchSize;
    if (!Number.isInteger(b) || b < 1) throw new Error(`BatchLoader: batchSize must be a positive integer, got ${b}`);
    const views = options.views ?? 2;
    if (views !== 1 && views !== 2) throw new Error(`BatchLoader: views must be 1 or 2, got ${views}`);
    this.opts = {
      batchSize: b,
      seed: options.seed ?? 0,
      shuffle: options.shuffle ?? true,
      dropLast: options.dropLast ?? true,
      labels: options.labels ?? false,
      augment: options.augment ?? null,
      views,
      prefetch: options.prefetch ?? true,
      autoDispose: options.autoDispose ?? true,
    };
    this.batchSize = b;
    this.seed = this.opts.seed;
    this.length = this.opts.dropLast ? Math.floor(dataset.count / b) : Math.ceil(dataset.count / b);
    if (this.length === 0) {
      throw new Error(
        `BatchLoader: ${dataset.name} has ${dataset.count} images, fewer than one batch of ${b} with dropLast; lower batchSize or set dropLast: false`,
      );
    }
    if (this.opts.augment) {
      // Fail now, not inside a background preparation, if the config does not fit the images.
      resolveAugment([b, dataset.channels, dataset.height, dataset.width], this.opts.augment);
    }
  }

  /** The epoch and position of the batch next() returns. */
  get position(): { epoch: number; index: number } {
    return { epoch: this.epochNow, index: this.indexNow };
  }

  /** Continue from batch `index` of `epoch` (e.g. after loading a checkpoint). */
  seek(epoch: number, index = 0): void {
    if (!Number.isInteger(epoch) || epoch < 0 || !Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new Error(`BatchLoader.seek: need an epoch >= 0 and an index in 0..${this.length - 1}, got (${epoch}, ${index})`);
    }
    this.dropReady();
    this.epochNow = epoch;
    this.indexNow = index;
  }

  /** The dataset order of epoch e (a permutation of 0..count−1). */
  permutation(epoch: number): Int32Array {
    if (this.orderEpoch !== epoch || !this.order) {
      const n = this.dataset.count;
      this.order = this.opts.shuffle
        ? new Generator(hashSeed(this.seed, epoch)).permutation(n)
        : Int32Array.from({ length: n }, (_, i) => i);
      this.orderEpoch = epoch;
    }
    return this.order;
  }

  /** The next batch (crossing into the next epoch after the last one). */
  next(): Batch {
    if (this.closed) throw new Error('BatchLoader: next() after close()');
    this.cancel?.();
    this.cancel = null;
    if (this.failure !== null) {
      const e = this.failure;
      this.failure = null;
      throw e;
    }
    const batch = this.ready ?? this.prepare(this.epochNow, this.indexNow);
    this.ready = null;
    if (this.opts.autoDispose) this.current?.dispose();
    this.current = batch;
    if (++this.indexNow === this.length) {
      this.indexNow = 0;
      this.epochNow++;
    }
    if (this.opts.prefetch) {
      const [e, i] = [this.epochNow, this.indexNow];
      this.cancel = later(() => {
        this.cancel = null;
        try {
          this.ready = this.prepare(e, i);
          this.ready.images.device.flush(); // start the augmentation right behind the caller's work
        } catch (err) {
          this.failure = err;
        }
      });
    }
    return batch;
  }

  /** The remaining batches of the current epoch (all `length` of them when called at its start). */
  *epoch(): IterableIterator<Batch> {
    const e = this.epochNow;
    while (this.epochNow === e && !this.closed) yield this.next();
  }

  [Symbol.iterator](): IterableIterator<Batch> {
    return this.epoch();
  }

  /** Disposes the prefetched batch (and the current one with autoDispose); next() then throws. */
  close(): void {
    this.dropReady();
    if (this.opts.autoDispose) this.current?.dispose();
    this.current = null;
    this.closed = true;
  }

  private dropReady(): void {
    this.cancel?.();
    this.cancel = null;
    this.ready?.dispose();
    this.ready = null;
    this.failure = null;
  }

  /** Gathers, converts, uploads and (optionally) augments batch `index` of `epoch`. */
  private prepare(epoch: number, index: number): Batch {
    const { batchSize: b, augment, views, labels } = this.opts;
    const order = this.permutation(epoch);
    const indices = order.slice(index * b, Math.min((index + 1) * b, order.length));
    const ds = this.dataset;
    const owned: Tensor[] = [];
    try {
      const images = keep(tensor(toFloat(ds, indices), [indices.length, ds.channels, ds.height, ds.width]));
      owned.push(images);
      const out: Tensor[] = [];
      if (augment) {
        const r = resolveAugment(images.shape, augment);
        const gen = new Generator(hashSeed(this.seed, epoch, index, 0xa06));
        for (let v = 0; v < views; v++) {
          const t = keep(augmentWithParams(images, sampleAugmentParams(indices.length, r, gen), r));
          owned.push(t);
          out.push(t);
        }
      }
      let labelArr: Int32Array | undefined;
      let labelTensor: Tensor | undefined;
      if (labels) {
        labelArr = Int32Array.from(indices, (i) => ds.labels[i]);
        labelTensor = keep(tensor(labelArr, [labelArr.length], { dtype: 'int32' }));
        owned.push(labelTensor);
      }
      return {
        epoch,
        index,
        indices,
        images,
        views: out,
        labels: labelArr,
        labelTensor,
        dispose: () => {
          for (const t of owned) t.dispose();
        },
      };
    } catch (e) {
      for (const t of owned) t.dispose();
      throw e;
    }
  }
}
