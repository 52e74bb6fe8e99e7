// wgrad/data — everything for getting data in: the Node readers of Fashion-MNIST, MNIST and
// CIFAR-10 (files or gzip), the pure parsers (IDX, CIFAR-10 binary batches) for bytes fetched
// elsewhere, ImageDataset helpers, TensorDataset for in-memory data, and the loaders.
//
//   import { loadFashionMnist, DataLoader } from 'wgrad/data';
//   const train = loadFashionMnist({ split: 'train' });     // uint8 images, labels
//   for (const [x, y] of new DataLoader(train, { batchSize: 128, shuffle: true })) { … }
//
// A separate entry because the readers import node:fs; the package root ('wgrad') stays loadable
// in browsers and exports the browser-safe part (TensorDataset, DataLoader, parsers, helpers).

export {
  loadFashionMnist,
  loadMnist,
  loadCifar10,
  loadDataset,
  readDataFile,
  FASHION_MNIST_DIR,
  FASHION_MNIST_CLASSES,
  MNIST_CLASSES,
  DATASET_NAMES,
  type Split,
  type LoadOptions,
  type DatasetName,
} from './node-files.ts';
export { parseIdx, encodeIdx, type IdxArray } from './idx.ts';
export { parseCifar10Batch, CIFAR10_CLASSES, type Cifar10Batch } from './cifar.ts';
export { subset, toFloat, imageSize, checkDataset, type ImageDataset } from './dataset.ts';
export { TensorDataset, DataLoader, type DataLoaderOptions, type Column, type HostArray } from './dataloader.ts';
export { BatchLoader, type BatchLoaderOptions, type Batch } from './loader.ts';
