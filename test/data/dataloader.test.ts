// TensorDataset and DataLoader: batches hold exactly the rows of their indices (host Float32Array
// columns, GPU tensor columns, flat label arrays, ImageDatasets), every sample once per epoch,
// PyTorch's defaults (no shuffle, short last batch kept), dropLast, a reshuffle per epoch that a
// seed repeats, prefetching that changes nothing; clear errors; and the wgrad/data entry exports
// the readers a user needs (loadFashionMnist… read from an IDX folder written here).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensor, manualSeed } from '../../src/index.ts';
import * as data from '../../src/data/index.ts';
import { TensorDataset, DataLoader, encodeIdx, loadFashionMnist, toFloat, type ImageDataset } from '../../src/data/index.ts';
import { setup, throwsWith } from '../helpers.ts';

test.before(setup);

const N = 10;
const features = Float32Array.from({ length: N * 3 }, (_, i) => i * 0.5);
const labels = Int32Array.from({ length: N }, (_, i) => i % 4);

async function epochRows(loader: DataLoader): Promise<{ x: number[][]; y: number[]; sizes: number[] }> {
  const x: number[][] = [];
  const y: number[] = [];
  const sizes: number[] = [];
  for (const [xb, yb] of loader) {
    sizes.push(xb.shape[0]);
    x.push(...((await xb.tolist()) as number[][]));
    y.push(...((await yb.tolist()) as number[]));
  }
  return { x, y, sizes };
}

const rowOf = (i: number) => [features[3 * i], features[3 * i + 1], features[3 * i + 2]];

test('PyTorch defaults: dataset order, short last batch kept; each batch holds its rows', async () => {
  const ds = new TensorDataset({ data: features, shape: [N, 3] }, labels);
  const loader = new DataLoader(ds, { batchSize: 4 });
  assert.is(loader.length, 3);
  const { x, y, sizes } = await epochRows(loader);
  assert.equal(sizes, [4, 4, 2]);
  assert.equal(
    x,
    Array.from({ length: N }, (_, i) => rowOf(i)),
  );
  assert.equal(y, Array.from(labels));
});

test('GPU tensor columns give the same batches as host columns; dropLast drops the tail', async () => {
  const gpu = new TensorDataset(tensor(features, [N, 3]), tensor(Float32Array.from(labels)));
  const loader = new DataLoader(gpu, { batchSize: 4, dropLast: true });
  assert.is(loader.length, 2);
  const { x, y, sizes } = await epochRows(loader);
  assert.equal(sizes, [4, 4]);
  assert.equal(
    x,
    Array.from({ length: 8 }, (_, i) => rowOf(i)),
  );
  assert.equal(y, Array.from(labels.slice(0, 8)));
});

test('shuffle: every sample once per epoch, a new order each epoch, the same orders for the same seed, prefetch or not', async () => {
  const ds = new TensorDataset({ data: features, shape: [N, 3] }, labels);
  const a = new DataLoader(ds, { batchSize: 3, shuffle: true, seed: 7 });
  const b = new DataLoader(ds, { batchSize: 3, shuffle: true, seed: 7, prefetch: false });
  const e0 = await epochRows(a);
  const e1 = await epochRows(a);
  const order0 = e0.x.map((r) => r[0] / 1.5);
  const order1 = e1.x.map((r) => r[0] / 1.5);
  assert.equal(
    [...order0].sort((p, q) => p - q),
    Array.from({ length: N }, (_, i) => i),
    'a permutation',
  );
  assert.not.equal(order0, order1, 'reshuffled per epoch');
  order0.forEach((i, k) => assert.is(e0.y[k], labels[i], 'labels follow their rows'));
  assert.equal((await epochRows(b)).x, e0.x, 'same seed, same first epoch without prefetch');
  assert.equal((await epochRows(b)).x, e1.x, 'and the same second epoch');
  manualSeed(3);
  const c = await epochRows(new DataLoader(ds, { batchSize: 3, shuffle: true }));
  manualSeed(3);
  const d = await epochRows(new DataLoader(ds, { batchSize: 3, shuffle: true }));
  assert.equal(c.x, d.x, 'without a seed, manualSeed fixes the order');
});

test('an ImageDataset through the DataLoader: images in [0, 1] as toFloat, labels', async () => {
  const ds: ImageDataset = {
    name: 'toy',
    images: Uint8Array.from({ length: 5 * 4 }, (_, i) => (i * 13) % 256),
    labels: Uint8Array.from([3, 1, 4, 1, 5]),
    count: 5,
    channels: 1,
    height: 2,
    width: 2,
    classes: ['0', '1', '2', '3', '4', '5'],
  };
  const batches = [...new DataLoader(ds, { batchSize: 2 })];
  assert.equal(
    batches.map(([x]) => x.shape),
    [
      [2, 1, 2, 2],
      [2, 1, 2, 2],
      [1, 1, 2, 2],
    ],
  );
  assert.equal(Array.from(await batches[1][0].toArray()), Array.from(toFloat(ds, [2, 3])));
  assert.equal(await batches[2][1].tolist(), [5]);
});

test('clear errors: mismatched columns, a wrong value count, a bad batch size, not a dataset', () => {
  throwsWith(() => new TensorDataset({ data: features, shape: [N, 3] }, labels.slice(0, 9)), 'same number of samples', 'got 10, 9');
  throwsWith(() => new TensorDataset({ data: features, shape: [N, 4] }), 'column 0 has 30 values, but its shape [10, 4] needs 40');
  throwsWith(() => new DataLoader(new TensorDataset(labels), { batchSize: 0 }), 'batchSize must be a positive integer, got 0');
  throwsWith(() => new DataLoader([1, 2, 3] as never), 'must be a TensorDataset or an ImageDataset');
});

test('wgrad/data exports the readers, parsers and helpers; loadFashionMnist reads an IDX folder', async () => {
  // What docs/API.md and the README import from 'wgrad/data' is what it exports.
  const root = new URL('../../', import.meta.url);
  for (const doc of ['docs/API.md', 'README.md']) {
    const text = readFileSync(new URL(doc, root), 'utf8');
    const imports = [...text.matchAll(/import \{([^}]*)\} from 'wgrad\/data'/g)].flatMap((m) =>
      m[1]
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
    assert.ok(imports.length > 0, `${doc} shows an import from wgrad/data`);
    for (const name of imports) assert.ok(name in data, `${doc} imports ${name} from wgrad/data, which does not export it`);
  }
  for (const name of [
    'loadFashionMnist',
    'loadMnist',
    'loadCifar10',
    'loadDataset',
    'parseIdx',
    'encodeIdx',
    'parseCifar10Batch',
    'subset',
    'toFloat',
    'TensorDataset',
    'DataLoader',
    'BatchLoader',
  ]) {
    assert.ok(name in data, `wgrad/data should export ${name}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'wgrad-fmnist-'));
  try {
    const pixels = Uint8Array.from({ length: 3 * 28 * 28 }, (_, i) => i % 256);
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), encodeIdx([3, 28, 28], pixels));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), encodeIdx([3], Uint8Array.from([9, 0, 2])));
    const ds = loadFashionMnist({ dir, split: 'train' });
    assert.is(ds.count, 3);
    const [[x, y]] = [...new DataLoader(ds, { batchSize: 3 })];
    assert.equal(x.shape, [3, 1, 28, 28]);
    assert.equal(await y.tolist(), [9, 0, 2]);
    assert.is((await x.toArray())[1], Math.fround(1 / 255));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
