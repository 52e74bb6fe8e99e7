// The kNN monitor (MoCo's CIFAR demo, lightly, solo-learn): L2-normalised features, cosine
// similarity of each test sample to every training sample (on the GPU, in chunks), the top k
// neighbours vote for their class with weight exp(sim / t). Returns top-1 accuracy in percent.

import { Tensor } from '../tensor.ts';
import { scoped } from '../scope.ts';
import { noGrad } from '../autograd/graph.ts';
import { fmt } from '../shape.ts';
import { fromArray } from '../ops/creation-internal.ts';

/** kNN monitor options: k neighbours (200), temperature t (0.1), classes, test rows per GPU chunk. */
export interface KnnOptions {
  k?: number;
  t?: number;
  /** Number of classes: when given, every label must be below it (votes go to the labels present either way). */
  classes?: number;
  /** Test rows per GPU chunk. */
  chunk?: number;
}

/** Labels as integers ≥ 0 (and < classes when given), or an error naming the first bad one. */
async function labelsOf(which: string, l: Int32Array | Tensor | ArrayLike<number>, classes: number | undefined): Promise<Int32Array> {
  const values = l instanceof Tensor ? await l.toArray() : (l as ArrayLike<number>);
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isInteger(v) || v < 0 || (classes !== undefined && v >= classes) || v > 0x7fffffff) {
      const range = classes !== undefined ? `integers in 0..${classes - 1} (classes: ${classes})` : 'integers >= 0';
      throw new Error(`knnAccuracy: ${which} label ${v} at position ${i} is not valid; labels must be ${range}`);
    }
    out[i] = v;
  }
  return out;
}

function checkOptions(opts: KnnOptions): { k: number; t: number } {
  const k = opts.k ?? 200;
  const t = opts.t ?? 0.1;
  if (!Number.isInteger(k) || k < 1) throw new Error(`knnAccuracy: k must be an integer >= 1 (got ${k})`);
  if (!(t > 0) || !Number.isFinite(t)) throw new Error(`knnAccuracy: t (the temperature) must be a finite number > 0 (got ${t})`);
  if (opts.classes !== undefined && (!Number.isInteger(opts.classes) || opts.classes < 1)) {
    throw new Error(`knnAccuracy: classes must be an integer >= 1 (got ${opts.classes})`);
  }
  if (opts.chunk !== undefined && (!Number.isInteger(opts.chunk) || opts.chunk < 1)) {
    throw new Error(`knnAccuracy: chunk must be an integer >= 1 (got ${opts.chunk})`);
  }
  return { k, t };
}

function l2normalize(x: Tensor): Tensor {
  return x.div(x.square().sum(1, true).sqrt().maximum(1e-12));
}

/** Reads a tensor's values into `into` (its first x.size elements). */
async function readInto(x: Tensor, into: Float32Array): Promise<void> {
  const c = x.isContiguous ? x : x.contiguous();
  await c.device.readInto(c.storage.buffer, c.offset * 4, into.subarray(0, c.size), 'knnAccuracy');
  if (c !== x) c.dispose();
}

/** k-th largest value of row (0-based k), by quickselect on a scratch copy. */
function kthLargest(row: Float32Array, k: number, scratch: Float32Array): number {
  scratch.set(row);
  let lo = 0;
  let hi = row.length - 1;
  while (lo < hi) {
    const pivot = scratch[(lo + hi) >>> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (scratch[i] > pivot) i++;
      while (scratch[j] < pivot) j--;
      if (i <= j) {
        const t = scratch[i];
        scratch[i] = scratch[j];
        scratch[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return scratch[k];
}

/**
 * Weighted kNN top-1 accuracy (percent) of test features against train features. The train
 * features may be given as a list of row blocks (concatenated in order) when the bank is larger
 * than one GPU buffer can hold (the device's maxStorageBufferBindingSize).
 * @example
 * await knnAccuracy(tensor([[1, 0], [0, 1]]), [0, 1], tensor([[0.9, 0.1]]), [0], { k: 1 }) // 100
 */
export async function knnAccuracy(
  trainFeatures: Tensor | Tensor[],
  trainLabels: Int32Array | Tensor | ArrayLike<number>,
  testFeatures: Tensor,
  testLabels: Int32Array | Tensor | ArrayLike<number>,
  opts: KnnOptions = {},
): Promise<number> {
  const { k, t } = checkOptions(opts);
  const blocks = Array.isArray(trainFeatures) ? trainFeatures : [trainFeatures];
  const dims = blocks.map((b) => fmt(b.shape)).join(', ');
  if (blocks.length === 0 || testFeatures.ndim !== 2 || blocks.some((b) => b.ndim !== 2 || b.shape[1] !== testFeatures.shape[1])) {
    throw new Error(
      `knnAccuracy: features must be [N, D] with the same D (got train ${dims || 'no blocks'}, test ${fmt(testFeatures.shape)})`,
    );
  }
  const yTrain = await labelsOf('train', trainLabels, opts.classes);
  const yTest = await labelsOf('test', testLabels, opts.classes);
  const nTrain = blocks.reduce((n, b) => n + b.shape[0], 0);
  const nTest = testFeatures.shape[0];
  if (yTrain.length !== nTrain || yTest.length !== nTest) {
    throw new Error(`knnAccuracy: ${nTrain} train features but ${yTrain.length} labels, ${nTest} test features but ${yTest.length} labels`);
  }
  const kk = Math.min(k, nTrain);
  // Votes go to the distinct training labels only (ascending, so ties pick the smallest label, as
  // argmax over all classes would): time and memory do not depend on how large a label is.
  const distinct = Int32Array.from(new Set(yTrain)).sort();
  const slot = new Map<number, number>();
  distinct.forEach((c, i) => slot.set(c, i));
  const trainSlot = Int32Array.from(yTrain, (c) => slot.get(c)!);
  const chunk = opts.chunk ?? Math.max(1, Math.floor(16_000_000 / nTrain));
  const train = blocks.map((b) => noGrad(() => l2normalize(b)));
  const values = new Float32Array(Math.min(chunk, nTest) * nTrain);
  const blockValues: Float32Array[] = [];
  const scratch = new Float32Array(nTrain);
  const votes = new Float64Array(distinct.length);
  let correct = 0;
  for (let start = 0; start < nTest; start += chunk) {
    const end = Math.min(nTest, start + chunk);
    const rows = end - start;
    const query = noGrad(() => l2normalize(testFeatures.slice(0, start, end)));
    // Similarities block by block, gathered into rows of nTrain values.
    let col = 0;
    for (const block of train) {
      const n = block.shape[0];
      const sim = noGrad(() => query.matmul(block.transpose(0, 1)));
      // One block: straight into the rows; several: through a reused array (a fresh 64 MB array
      // per chunk costs more than the readback itself).
      const part =
        train.length === 1 ? values.subarray(0, rows * n) : (blockValues[col] ??= new Float32Array((values.length / nTrain) * n));
      await readInto(sim, part);
      sim.dispose();
      const bad = part.findIndex((v) => Number.isNaN(v));
      if (bad >= 0) {
        query.dispose();
        for (const b of train) b.dispose();
        throw new Error(
          `knnAccuracy: the features hold NaN or ±Inf (the similarity of test row ${start + Math.floor(bad / n)} and train row ${col + (bad % n)} is NaN); no accuracy can be computed from them`,
        );
      }
      if (part.buffer !== values.buffer) for (let r = 0; r < rows; r++) values.set(part.subarray(r * n, (r + 1) * n), r * nTrain + col);
      col += n;
    }
    query.dispose();
    for (let r = 0; r < rows; r++) {
      const row = values.subarray(r * nTrain, (r + 1) * nTrain);
      const threshold = kthLargest(row, kk - 1, scratch);
      votes.fill(0);
      let taken = 0;
      // Neighbours strictly above the threshold, then ties at the threshold up to k.
      for (let j = 0; j < nTrain; j++)
        if (row[j] > threshold) {
          votes[trainSlot[j]] += Math.exp(row[j] / t);
          taken++;
        }
      for (let j = 0; j < nTrain && taken < kk; j++)
        if (row[j] === threshold) {
          votes[trainSlot[j]] += Math.exp(row[j] / t);
          taken++;
        }
      let best = 0;
      for (let c = 1; c < distinct.length; c++) if (votes[c] > votes[best]) best = c;
      if (distinct[best] === yTest[start + r]) correct++;
    }
  }
  for (const b of train) b.dispose();
  return (100 * correct) / nTest;
}

/**
 * Raw-pixel baseline helper: images as [N, C·H·W] features, in row blocks of at most `maxRows`
 * rows when given (one GPU buffer cannot hold 60,000 × 3072 floats on every device).
 */
export function flattenImages(data: Float32Array, n: number): Tensor;
export function flattenImages(data: Float32Array, n: number, maxRows: number): Tensor[];
export function flattenImages(data: Float32Array, n: number, maxRows?: number): Tensor | Tensor[] {
  const d = data.length / n;
  if (maxRows === undefined) return fromArray(data, [n, d]);
  if (!Number.isInteger(maxRows) || maxRows < 1)
    throw new Error(
      `flattenImages: maxRows must be a positive integer, got ${maxRows} (one image of ${d} values may not fit one GPU buffer)`,
    );
  const blocks: Tensor[] = [];
  for (let r = 0; r < n; r += maxRows) {
    const rows = Math.min(maxRows, n - r);
    blocks.push(fromArray(data.subarray(r * d, (r + rows) * d), [rows, d]));
  }
  return blocks;
}
