/**
 * TensorDataset and DataLoader, in PyTorch's spirit: a dataset of in-memory samples (GPU tensors,
 * or host arrays such as a Float32Array, batched row by row and uploaded per batch) and a loader
 * that cuts any dataset (a TensorDataset or an ImageDataset from the readers) into `[x, y]`
 * batches, with PyTorch's defaults: no shuffling, the short last batch kept. Each `for … of` over
 * the loader is one epoch; with `shuffle`, epoch e's order is drawn from (seed, e), the seed
 * taken from manualSeed's generator when not given. The next batch is prepared while the caller
 * awaits the step's result (as BatchLoader, loader.ts); batches are ordinary tensors, freed when
 * unreachable (or by tidy, or dispose()).
 */

import { Tensor } from '../tensor.ts';
import { tensor } from '../creation.ts';
import { fmt } from '../shape.ts';
import { noGrad } from '../autograd/graph.ts';
import { indexSelect } from '../ops/shape.ts';
import { Generator, defaultGenerator } from '../random.ts';
import { type ImageDataset, toFloat } from './dataset.ts';
import { hashSeed, later } from './loader.ts';

/** Host data with its shape (first dimension: samples), e.g. `{ data: pixels, shape: [60000, 784] }`. */
export interface HostArray {
  data: ArrayLike<number>;
  shape: readonly number[];
}

/** One column of a TensorDataset: a GPU tensor, host data with a shape, or a flat array (one number per sample). */
export type Column = Tensor | HostArray | ArrayLike<number>;

function isHostArray(c: Column): c is HostArray {
  return !(c instanceof Tensor) && typeof c === 'object' && 'data' in c && 'shape' in c;
}

function shapeOf(c: Column): readonly number[] {
  if (c instanceof Tensor) return c.shape;
  if (isHostArray(c)) return c.shape;
  return [c.length];
}

/** Rows `indices` of a column, as a new tensor [indices.length, …]. */
function rows(c: Column, indices: Int32Array): Tensor {
  if (c instanceof Tensor) return noGrad(() => indexSelect(c, 0, indices));
  const shape = shapeOf(c);
  const data = isHostArray(c) ? c.data : c;
  const size = shape.slice(1).reduce((a, b) => a * b, 1);
  // Integer typed arrays (labels, indices) batch as int32, what crossEntropy and gather take.
  const integral = ArrayBuffer.isView(data) && !(data instanceof Float32Array || data instanceof Float64Array);
  const out = integral ? new Int32Array(indices.length * size) : new Float32Array(indices.length * size);
  for (let k = 0; k < indices.length; k++) {
    const from = indices[k] * size;
    for (let i = 0; i < size; i++) out[k * size + i] = data[from + i];
  }
  return tensor(out, [indices.length, ...shape.slice(1)]);
}

/**
 * Samples held in memory, like torch.utils.data.TensorDataset: inputs and targets indexed along
 * their first dimension. Each may be a GPU tensor, host data with a shape (`{ data, shape }`,
 * e.g. a Float32Array), or a flat array with one number per sample. Integer typed arrays
 * (Int32Array, Uint8Array, …) batch as int32 tensors (class labels for crossEntropy), others as float32.
 *
 * @example
 * const x = new Float32Array(100 * 4).map((_, i) => Math.sin(i));
 * const y = Int32Array.from({ length: 100 }, (_, i) => i % 3);
 * const ds = new TensorDataset({ data: x, shape: [100, 4] }, y);
 * const loader = new DataLoader(ds, { batchSize: 32, shuffle: true });
 * for (const [xb, yb] of loader) console.log(xb.shape, yb.shape); // [32, 4] [32] … [4, 4] [4]
 */
export class TensorDataset {
  readonly columns: Column[];
  readonly count: number;

  constructor(...columns: Column[]) {
    if (columns.length === 0) throw new Error('TensorDataset: give at least one column (inputs, and usually targets)');
    const counts = columns.map((c) => shapeOf(c)[0]);
    columns.forEach((c, i) => {
      const shape = shapeOf(c);
      if (shape.length === 0) throw new Error(`TensorDataset: column ${i} is a scalar; each column needs a first dimension of samples`);
      if (isHostArray(c)) {
        const n = shape.reduce((a, b) => a * b, 1);
        if (c.data.length !== n)
          throw new Error(`TensorDataset: column ${i} has ${c.data.length} values, but its shape ${fmt(shape)} needs ${n}`);
      }
    });
    if (counts.some((n) => n !== counts[0])) {
      throw new Error(
        `TensorDataset: every column needs the same number of samples (first dimension); got ${counts.join(', ')} (shapes ${columns.map((c) => fmt(shapeOf(c))).join(', ')})`,
      );
    }
    this.columns = columns;
    this.count = counts[0];
  }

  get length(): number {
    return this.count;
  }

  /** The samples at `indices`, one tensor per column. */
  batch(indices: Int32Array): Tensor[] {
    for (const i of indices) {
      if (!Number.isInteger(i) || i < 0 || i >= this.count) throw new Error(`TensorDataset: index ${i} is outside 0..${this.count - 1}`);
    }
    return this.columns.map((c) => rows(c, indices));
  }
}

function isImageDataset(d: unknown): d is ImageDataset {
  return typeof d === 'object' && d !== null && (d as ImageDataset).images instanceof Uint8Array && 'channels' in d;
}

/** Options of DataLoader, with PyTorch's defaults. */
export interface DataLoaderOptions {
  /** Samples per batch (default 1). */
  batchSize?: number;
  /** Reshuffle every epoch (default false). */
  shuffle?: boolean;
  /** Drop the last batch of an epoch when it is short (default false). */
  dropLast?: boolean;
  /** Seeds the shuffling (default: drawn from manualSeed's generator when the loader is made). */
  seed?: number;
  /** Prepare the next batch while the caller awaits the current step (default true). */
  prefetch?: boolean;
}

/**
 * Batches of a TensorDataset (one tensor per column) or of an ImageDataset (`[images, labels]`:
 * images [B, C, H, W] f32 in [0, 1], labels int32 [B]), like torch.utils.data.DataLoader. Iterating
 * runs one epoch; `length` is the number of batches per epoch.
 *
 * @example
 * const ds = new TensorDataset(randn(10, 3), tensor([0, 1, 0, 1, 0, 1, 0, 1, 0, 1], undefined, { dtype: 'int32' }));
 * const loader = new DataLoader(ds, { batchSize: 4 });
 * console.log(loader.length); // 3 (4 + 4 + 2)
 * for (const [x, y] of loader) console.log(x.shape, await y.tolist());
 */
export class DataLoader implements Iterable<Tensor[]> {
  readonly batchSize: number;
  readonly length: number;
  private readonly opts: Required<DataLoaderOptions>;
  private epochNow = 0;

  constructor(
    readonly dataset: TensorDataset | ImageDataset,
    options: DataLoaderOptions = {},
  ) {
    const b = options.batchSize ?? 1;
    if (!Number.isInteger(b) || b < 1) throw new Error(`DataLoader: batchSize must be a positive integer, got ${b}`);
    if (!(dataset instanceof TensorDataset) && !isImageDataset(dataset)) {
      throw new Error('DataLoader: the dataset must be a TensorDataset or an ImageDataset (from loadFashionMnist, loadMnist, loadCifar10)');
    }
    this.opts = {
      batchSize: b,
      shuffle: options.shuffle ?? false,
      dropLast: options.dropLast ?? false,
      seed: options.seed ?? defaultGenerator.nextU32(),
      prefetch: options.prefetch ?? true,
    };
    this.batchSize = b;
    const n = dataset.count;
    this.length = this.opts.dropLast ? Math.floor(n / b) : Math.ceil(n / b);
  }

  /** The sample order of epoch e. */
  permutation(epoch: number): Int32Array {
    const n = this.dataset.count;
    return this.opts.shuffle ? new Generator(hashSeed(this.opts.seed, epoch)).permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
  }

  private prepare(order: Int32Array, index: number): Tensor[] {
    const b = this.batchSize;
    const indices = order.slice(index * b, Math.min((index + 1) * b, order.length));
    const ds = this.dataset;
    if (ds instanceof TensorDataset) return ds.batch(indices);
    const images = tensor(toFloat(ds, indices), [indices.length, ds.channels, ds.height, ds.width]);
    return [
      images,
      tensor(
        Int32Array.from(indices, (i) => ds.labels[i]),
        [indices.length],
      ),
    ];
  }

  /** One epoch of batches; the next epoch starts with the next iteration. */
  *[Symbol.iterator](): Iterator<Tensor[]> {
    const order = this.permutation(this.epochNow++);
    let ready: Tensor[] | null = null;
    let cancel: (() => void) | null = null;
    let failure: unknown = null;
    try {
      for (let i = 0; i < this.length; i++) {
        cancel?.();
        if (failure !== null) throw failure;
        const batch = ready ?? this.prepare(order, i);
        ready = null;
        if (this.opts.prefetch && i + 1 < this.length) {
          cancel = later(() => {
            cancel = null;
            try {
              ready = this.prepare(order, i + 1);
            } catch (e) {
              failure = e;
            }
          });
        }
        yield batch;
      }
    } finally {
      cancel?.();
      for (const t of (ready as Tensor[] | null) ?? []) t.dispose();
    }
  }
}
