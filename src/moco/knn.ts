// The kNN monitor (MoCo's CIFAR demo, lightly, solo-learn): L2-normalised features, cosine
// similarity of each test sample to every training sample (on the GPU, in chunks), the top k
// neighbours vote for their class with weight exp(sim / t). Returns top-1 accuracy in percent.

import { Tensor } from '../tensor.ts';
import { tidy } from '../scope.ts';
import { noGrad } from '../autograd/graph.ts';
import { fmt } from '../shape.ts';
import { fromArray } from '../ops/creation-internal.ts';

/** kNN monitor options: k neighbours (200), temperature t (0.1), classes, test rows per GPU chunk. */
export interface KnnOptions {
  k?: number;
  t?: number;
  /** Number of classes (default: max label + 1). */
  classes?: number;
  /** Test rows per GPU chunk. */
  chunk?: number;
}

async function labelsOf(l: Int32Array | Tensor | ArrayLike<number>): Promise<Int32Array> {
  if (l instanceof Tensor) return Int32Array.from(await l.toArray(), (v) => Math.round(v));
  return Int32Array.from(l as ArrayLike<number>);
}

function l2normalize(x: Tensor): Tensor {
  return x.div(x.square().sum(1, true).sqrt().maximum(1e-12));
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
 * Weighted kNN top-1 accuracy (percent) of test features against train features.
 * @example
 * await knnAccuracy(tensor([[1, 0], [0, 1]]), [0, 1], tensor([[0.9, 0.1]]), [0], { k: 1 }) // 100
 */
export async function knnAccuracy(
  trainFeatures: Tensor,
  trainLabels: Int32Array | Tensor | ArrayLike<number>,
  testFeatures: Tensor,
  testLabels: Int32Array | Tensor | ArrayLike<number>,
  opts: KnnOptions = {},
): Promise<number> {
  const k = opts.k ?? 200;
  const t = opts.t ?? 0.1;
  if (trainFeatures.ndim !== 2 || testFeatures.ndim !== 2 || trainFeatures.shape[1] !== testFeatures.shape[1]) {
    throw new Error(`knnAccuracy: features must be [N, D] with the same D (got train ${fmt(trainFeatures.shape)}, test ${fmt(testFeatures.shape)})`);
  }
  const yTrain = await labelsOf(trainLabels);
  const yTest = await labelsOf(testLabels);
  const nTrain = trainFeatures.shape[0];
  const nTest = testFeatures.shape[0];
  if (yTrain.length !== nTrain || yTest.length !== nTest) {
    throw new Error(`knnAccuracy: ${nTrain} train features but ${yTrain.length} labels, ${nTest} test features but ${yTest.length} labels`);
  }
  const kk = Math.min(k, nTrain);
  const classes = opts.classes ?? Math.max(...yTrain, ...yTest) + 1;
  const chunk = opts.chunk ?? Math.max(1, Math.floor(16_000_000 / nTrain));
  const train = noGrad(() => l2normalize(trainFeatures));
  const scratch = new Float32Array(nTrain);
  const votes = new Float64Array(classes);
  let correct = 0;
  for (let start = 0; start < nTest; start += chunk) {
    const end = Math.min(nTest, start + chunk);
    const sim = noGrad(() => tidy(() => l2normalize(testFeatures.slice(0, start, end)).matmul(train.transpose(0, 1))));
    const values = await sim.toArray();
    sim.dispose();
    for (let r = 0; r < end - start; r++) {
      const row = values.subarray(r * nTrain, (r + 1) * nTrain);
      const threshold = kthLargest(row, kk - 1, scratch);
      votes.fill(0);
      let taken = 0;
      // Neighbours strictly above the threshold, then ties at the threshold up to k.
      for (let j = 0; j < nTrain; j++) if (row[j] > threshold) { votes[yTrain[j]] += Math.exp(row[j] / t); taken++; }
      for (let j = 0; j < nTrain && taken < kk; j++) if (row[j] === threshold) { votes[yTrain[j]] += Math.exp(row[j] / t); taken++; }
      let best = 0;
      for (let c = 1; c < classes; c++) if (votes[c] > votes[best]) best = c;
      if (best === yTest[start + r]) correct++;
    }
  }
  train.dispose();
  return (100 * correct) / nTest;
}

/** Raw-pixel baseline helper: images as [N, C·H·W] features. */
export function flattenImages(data: Float32Array, n: number): Tensor {
  return fromArray(data, [n, data.length / n]);
}
