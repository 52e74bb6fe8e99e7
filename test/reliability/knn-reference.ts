// Shared by the CLI tests that check the full-set evaluation: a float64 kNN of raw pixels and a
// small "full" Fashion-MNIST in IDX files (--data-dir), so the full sets take seconds.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { toFloat, type ImageDataset } from '../../src/data/dataset.ts';
import { encodeIdx } from '../../src/data/idx.ts';
import { loadDataset } from '../../src/data/node-files.ts';

/** Float64 weighted kNN (cosine similarity, top k, weights exp(sim / t)), top-1 in percent. */
export function referenceKnn(train: ImageDataset, test: ImageDataset, k: number, t: number): number {
  const d = train.channels * train.height * train.width;
  const unit = (x: Float32Array, i: number) => {
    const v = Array.from(x.subarray(i * d, (i + 1) * d));
    const n = Math.max(Math.hypot(...v), 1e-12);
    return v.map((e) => e / n);
  };
  const [xTr, xTe] = [toFloat(train), toFloat(test)];
  const bank = Array.from({ length: train.count }, (_, i) => unit(xTr, i));
  let correct = 0;
  for (let i = 0; i < test.count; i++) {
    const q = unit(xTe, i);
    const sims = bank.map((b, j) => ({ s: b.reduce((a, v, e) => a + v * q[e], 0), y: train.labels[j] }));
    sims.sort((a, b) => b.s - a.s);
    const votes = new Array(10).fill(0);
    for (const { s, y } of sims.slice(0, k)) votes[y] += Math.exp(s / t);
    if (votes.indexOf(Math.max(...votes)) === test.labels[i]) correct++;
  }
  return (100 * correct) / test.count;
}

/** The first `nTrain` training and `nTest` test images of Fashion-MNIST as IDX files in `dir` (created); returns `dir`. */
export function smallFashionMnist(dir: string, nTrain: number, nTest: number): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const [split, prefix, n] of [
    ['train', 'train', nTrain],
    ['test', 't10k', nTest],
  ] as const) {
    const ds = loadDataset('fashion-mnist', { split });
    fs.writeFileSync(path.join(dir, `${prefix}-images-idx3-ubyte`), encodeIdx([n, 28, 28], ds.images.subarray(0, n * 784)));
    fs.writeFileSync(path.join(dir, `${prefix}-labels-idx1-ubyte`), encodeIdx([n], ds.labels.subarray(0, n)));
  }
  return dir;
}
