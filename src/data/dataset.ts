/**
 * The in-memory image dataset every reader returns, plus small pure helpers on it.
 *
 * Images stay uint8 (N×C×H×W, 0..255) until a batch is needed: toFloat() turns just the
 * chosen images into float32 in [0, 1]. Fashion-MNIST train as float would be 188 MB.
 */

/** Images (uint8 NCHW) and labels in memory: what loadFashionMnist, loadMnist and loadCifar10 (wgrad/data) return. */
export interface ImageDataset {
  name: string;
  /** count×channels×height×width, NCHW, values 0..255. */
  images: Uint8Array;
  /** One class index per image, each < classes.length. */
  labels: Uint8Array;
  count: number;
  channels: number;
  height: number;
  width: number;
  classes: string[];
}

/** Bytes of one image: channels × height × width. */
export function imageSize(ds: ImageDataset): number {
  return ds.channels * ds.height * ds.width;
}

/** Throws unless the image file and the label file hold the same number of items. */
export function checkCounts(imageCount: number, labelCount: number, imageFile: string, labelFile: string): void {
  if (imageCount !== labelCount) {
    throw new Error(
      `image count ${imageCount} (${imageFile}) != label count ${labelCount} (${labelFile}); ` +
        'the two files do not belong together (mixed train/test, or one is truncated)',
    );
  }
}

/** Throws unless the buffers agree with count and shape and every label names a class; returns ds. */
export function checkDataset(ds: ImageDataset): ImageDataset {
  const want = ds.count * imageSize(ds);
  if (ds.images.length !== want) {
    throw new Error(`${ds.name}: images hold ${ds.images.length} bytes; ${ds.count}×${ds.channels}×${ds.height}×${ds.width} needs ${want}`);
  }
  if (ds.labels.length !== ds.count) {
    throw new Error(`${ds.name}: ${ds.labels.length} labels for ${ds.count} images`);
  }
  for (let i = 0; i < ds.count; i++) {
    if (ds.labels[i] >= ds.classes.length) {
      throw new Error(`${ds.name}: label ${ds.labels[i]} at index ${i} is not a class (0..${ds.classes.length - 1})`);
    }
  }
  return ds;
}

/** mulberry32: a tiny seeded generator of uniform numbers in [0, 1). */
function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A copy holding n images: the first n, or with a seed, n distinct images drawn at random
 * (same seed, same images), kept in their original order.
 * @example
 * const ds = { name: 'toy', images: new Uint8Array(10 * 4), labels: new Uint8Array(10), count: 10,
 *   channels: 1, height: 2, width: 2, classes: ['a'] };
 * console.log(subset(ds, 3, 1).count); // 3 images drawn with seed 1
 */
export function subset(ds: ImageDataset, n: number, seed?: number): ImageDataset {
  if (!Number.isInteger(n) || n < 0 || n > ds.count) {
    throw new Error(`subset(${ds.name}, ${n}): n must be an integer in 0..${ds.count}`);
  }
  let indices: number[];
  if (seed === undefined) {
    indices = Array.from({ length: n }, (_, i) => i);
  } else {
    // Partial Fisher-Yates over a permutation of all indices: the first n are the sample.
    const rand = mulberry32(seed);
    const perm = Uint32Array.from({ length: ds.count }, (_, i) => i);
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(rand() * (ds.count - i));
      const t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    indices = Array.from(perm.subarray(0, n)).sort((a, b) => a - b);
  }
  const size = imageSize(ds);
  const images = new Uint8Array(n * size);
  const labels = new Uint8Array(n);
  indices.forEach((src, k) => {
    images.set(ds.images.subarray(src * size, (src + 1) * size), k * size);
    labels[k] = ds.labels[src];
  });
  return { ...ds, images, labels, count: n, classes: [...ds.classes] };
}

/**
 * Images as float32 in [0, 1], NCHW: all of them, or those at `indices`, in that order.
 * @example
 * const ds = { name: 'toy', images: new Uint8Array([0, 255, 51, 102]), labels: new Uint8Array(4), count: 4,
 *   channels: 1, height: 1, width: 1, classes: ['a'] };
 * console.log(toFloat(ds, [1, 2])); // Float32Array [1, 0.2]
 */
export function toFloat(ds: ImageDataset, indices?: ArrayLike<number>): Float32Array {
  const size = imageSize(ds);
  if (indices === undefined) {
    const out = new Float32Array(ds.count * size);
    for (let i = 0; i < out.length; i++) out[i] = ds.images[i] / 255;
    return out;
  }
  const out = new Float32Array(indices.length * size);
  for (let k = 0; k < indices.length; k++) {
    const src = indices[k];
    if (!Number.isInteger(src) || src < 0 || src >= ds.count) {
      throw new Error(`toFloat(${ds.name}): index ${src} at position ${k} is outside 0..${ds.count - 1}`);
    }
    const from = src * size;
    const to = k * size;
    for (let i = 0; i < size; i++) out[to + i] = ds.images[from + i] / 255;
  }
  return out;
}
