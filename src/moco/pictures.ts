// Pictures of a MoCo run, shared by the CLI (retrieval.svg and embedding.svg next to curves.svg)
// and the page of `npm run web`: which training images the encoder finds nearest to a few test
// images, a 2-D PCA of the test embeddings, the queue's fill and age, and images as PNG data URIs.
// The data comes from GPU tensors (cosine similarities, a covariance matrix); the drawing is plain
// SVG text, so Node writes it to a file and the page puts it into the document. No Node imports.

import type { Tensor } from '../tensor.ts';
import { noGrad } from '../autograd/graph.ts';
import { scoped } from '../scope.ts';
import { fromArray } from '../ops/creation-internal.ts';
import { indexSelect } from '../ops/shape.ts';
import { imageSize, toFloat, type ImageDataset } from '../data/dataset.ts';

/** One colour per class (Tableau 10), as the CLI's curves use. */
export const CLASS_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

const l2normalize = (x: Tensor) => x.div(x.square().sum(1, true).sqrt().maximum(1e-12));

// ---------------------------------------------------------------------------------------------
// PNG (grayscale or RGB, 8 bit) with stored deflate blocks: no compressor needed, in Node or a page.

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** A zlib stream of stored (uncompressed) deflate blocks of at most 65535 bytes each. */
function zlibStored(raw: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(raw.length / 65535));
  const out = new Uint8Array(2 + raw.length + 5 * blocks + 4);
  out[0] = 0x78;
  out[1] = 0x01;
  let o = 2;
  for (let b = 0; b < blocks; b++) {
    const part = raw.subarray(b * 65535, Math.min(raw.length, (b + 1) * 65535));
    out[o] = b === blocks - 1 ? 1 : 0;
    out[o + 1] = part.length & 0xff;
    out[o + 2] = part.length >>> 8;
    out[o + 3] = ~part.length & 0xff;
    out[o + 4] = (~part.length >>> 8) & 0xff;
    out.set(part, o + 5);
    o += 5 + part.length;
  }
  let a = 1;
  let s = 0;
  for (const v of raw) {
    a = (a + v) % 65521;
    s = (s + a) % 65521;
  }
  new DataView(out.buffer).setUint32(o, ((s << 16) | a) >>> 0);
  return out;
}

/**
 * PNG bytes of one image, CHW (1 channel: grayscale, 3: RGB); floats are read as [0, 1] and
 * clamped, bytes as 0..255.
 * @example
 * encodePng(new Float32Array([0, 1, 1, 0]), 2, 2, 1) // a 2×2 checkerboard, 8-bit grayscale
 */
export function encodePng(pixels: Float32Array | Uint8Array, width: number, height: number, channels: 1 | 3): Uint8Array {
  if (pixels.length !== width * height * channels) {
    throw new Error(`encodePng: ${pixels.length} values do not make a ${channels}×${height}×${width} image (${channels * height * width})`);
  }
  const toByte = pixels instanceof Uint8Array ? (v: number) => v : (v: number) => Math.round(Math.min(1, Math.max(0, v)) * 255);
  const raw = new Uint8Array(height * (1 + width * channels));
  for (let y = 0; y < height; y++) {
    const row = y * (1 + width * channels); // filter byte 0 (none), then the row
    for (let x = 0; x < width; x++)
      for (let c = 0; c < channels; c++) {
        raw[row + 1 + x * channels + c] = toByte(pixels[c * width * height + y * width + x]);
      }
  }
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr.set([8, channels === 1 ? 0 : 2, 0, 0, 0], 8);
  const parts = [
    new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlibStored(raw)),
    chunk('IEND', new Uint8Array()),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** `encodePng` as a data: URI, for an SVG <image> or an HTML <img>. */
export function pngDataUri(pixels: Float32Array | Uint8Array, width: number, height: number, channels: 1 | 3): string {
  let s = '';
  for (const b of encodePng(pixels, width, height, channels)) s += String.fromCharCode(b);
  return `data:image/png;base64,${btoa(s)}`;
}

// ---------------------------------------------------------------------------------------------
// Retrieval: the nearest training images of a few test images, by cosine similarity.

/** The first test image of each class in turn (then the next of each), `n` indices in all. */
export function pickQueries(labels: ArrayLike<number>, n: number): number[] {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) (byClass.get(labels[i]) ?? byClass.set(labels[i], []).get(labels[i])!).push(i);
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  const out: number[] = [];
  for (let round = 0; out.length < Math.min(n, labels.length); round++) {
    for (const c of classes) if (out.length < n && round < byClass.get(c)!.length) out.push(byClass.get(c)![round]);
  }
  return out;
}

/**
 * For each query row, the indices of the `k` bank rows of highest cosine similarity, best first
 * (ties: lower index first). The bank may come as row blocks, as for knnAccuracy.
 * @example
 * await nearestNeighbours(tensor([[1, 0], [0, 1], [1, 1]]), tensor([[1, 0.1]]), 2) // [[0, 2]]
 */
export async function nearestNeighbours(bank: Tensor | Tensor[], queries: Tensor, k: number): Promise<number[][]> {
  const blocks = Array.isArray(bank) ? bank : [bank];
  const n = blocks.reduce((s, b) => s + b.shape[0], 0);
  if (!Number.isInteger(k) || k < 1 || k > n)
    throw new Error(`nearestNeighbours: k must be an integer in 1..${n} (the bank's rows), got ${k}`);
  const rows = queries.shape[0];
  const sims: Float32Array[] = [];
  for (const b of blocks) {
    if (b.ndim !== 2 || queries.ndim !== 2 || b.shape[1] !== queries.shape[1]) {
      throw new Error(`nearestNeighbours: bank [${b.shape}] and queries [${queries.shape}] must be [N, D] with the same D`);
    }
    const s = noGrad(() => scoped(() => l2normalize(queries).matmul(l2normalize(b).transpose(0, 1))));
    sims.push(await s.toArray());
    s.dispose();
  }
  return Array.from({ length: rows }, (_, r) => {
    const order: [number, number][] = [];
    let base = 0;
    for (let bi = 0; bi < blocks.length; bi++) {
      const cols = blocks[bi].shape[0];
      for (let j = 0; j < cols; j++) order.push([sims[bi][r * cols + j], base + j]);
      base += cols;
    }
    order.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    return order.slice(0, k).map((p) => p[1]);
  });
}

// ---------------------------------------------------------------------------------------------
// PCA: covariance on the GPU (one [D, D] matmul), its top eigenvectors by power iteration in
// float64 on the host (D is the feature size, small), the projection again on the GPU.

/** 2-D PCA of the L2-normalised rows of `features` [N, D]. */
export interface Projection {
  /** N×2, row-major: each row's coordinates along the first two principal axes. */
  points: Float32Array;
  /** Variance along each axis (the covariance's two largest eigenvalues). */
  variances: [number, number];
  /** Total variance (trace of the covariance): variances / total = explained fraction. */
  total: number;
  /** The two principal axes, D values each. */
  axes: [Float64Array, Float64Array];
}

/** Top eigenvector of a symmetric positive semi-definite D×D matrix, by power iteration. */
function topEigen(c: Float64Array, d: number, iterations: number): { value: number; vector: Float64Array } {
  let v = Float64Array.from({ length: d }, (_, i) => 1 + ((i * 7919) % 13) / 13); // fixed, non-degenerate start
  let value = 0;
  for (let it = 0; it < iterations; it++) {
    const w = new Float64Array(d);
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += c[i * d + j] * v[j];
      w[i] = s;
    }
    const norm = Math.hypot(...w);
    if (norm === 0) break;
    for (let i = 0; i < d; i++) w[i] /= norm;
    value = norm;
    v = w;
  }
  return { value, vector: v };
}

/**
 * Projects L2-normalised features onto their first two principal components.
 * @example
 * const { points, variances } = await pca2d(features); // points: N×2
 */
export async function pca2d(features: Tensor, iterations = 300): Promise<Projection> {
  if (features.ndim !== 2 || features.shape[0] < 2) throw new Error(`pca2d: features must be [N, D] with N >= 2 (got [${features.shape}])`);
  const [n, d] = features.shape;
  const [centered, cov] = noGrad(() =>
    scoped(() => {
      const x = l2normalize(features);
      const xc = x.sub(x.mean(0, true));
      return [xc, xc.transpose(0, 1).matmul(xc).div(n)];
    }),
  );
  const c = Float64Array.from(await cov.toArray());
  cov.dispose();
  const total = Array.from({ length: d }, (_, i) => c[i * d + i]).reduce((a, b) => a + b, 0);
  const first = topEigen(c, d, iterations);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) c[i * d + j] -= first.value * first.vector[i] * first.vector[j]; // deflate
  const second = topEigen(c, d, iterations);
  const axes = new Float32Array(d * 2);
  for (let i = 0; i < d; i++) {
    axes[i * 2] = first.vector[i];
    axes[i * 2 + 1] = second.vector[i];
  }
  const projected = noGrad(() => scoped(() => centered.matmul(fromArray(axes, [d, 2]))));
  centered.dispose();
  const points = await projected.toArray();
  projected.dispose();
  return { points, variances: [first.value, second.value], total, axes: [first.vector, second.vector] };
}

// ---------------------------------------------------------------------------------------------
// The queue: which step wrote each slot.

/** Marks the `count` slots written by one enqueue at `ptr` (wrapping around) with `step`. */
export function recordEnqueue(writtenAt: Int32Array, ptr: number, count: number, step: number): void {
  for (let i = 0; i < count; i++) writtenAt[(ptr + i) % writtenAt.length] = step;
}

// ---------------------------------------------------------------------------------------------
// SVG drawings.

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** One image of a dataset (float32 CHW in [0, 1]) and what to call it. */
export interface Thumb {
  uri: string;
  label: number;
}

/** One retrieval row: the query image and, per method, its neighbours. */
export interface RetrievalRow {
  query: Thumb;
  neighbours: Thumb[][];
}

/**
 * The retrieval grid: one row per test image, then per method (MoCo, raw pixels, random encoder)
 * its nearest training images, framed green when they share the query's class and red otherwise.
 */
export function retrievalSvg(title: string, methods: string[], rows: RetrievalRow[], classes: string[], cell = 40): string {
  const k = rows[0]?.neighbours[0]?.length ?? 0;
  const gap = 14;
  const x0 = 110;
  const colX = (m: number, j: number) => x0 + cell + gap + m * (k * (cell + 2) + gap) + j * (cell + 2);
  const width = colX(methods.length, 0);
  const height = 50 + rows.length * (cell + 6);
  const parts: string[] = [`<text x="${width / 2}" y="16" font-size="13" text-anchor="middle">${esc(title)}</text>`];
  parts.push(`<text x="${x0 + cell / 2}" y="38" font-size="11" text-anchor="middle">test image</text>`);
  methods.forEach((m, mi) =>
    parts.push(`<text x="${colX(mi, 0) + (k * (cell + 2)) / 2}" y="38" font-size="11" text-anchor="middle">${esc(m)}</text>`),
  );
  const img = (t: Thumb, x: number, y: number, frame?: string) =>
    `<image class="thumb" href="${t.uri}" x="${x}" y="${y}" width="${cell}" height="${cell}" style="image-rendering:pixelated"><title>${esc(classes[t.label] ?? String(t.label))}</title></image>` +
    (frame
      ? `<rect x="${x - 1}" y="${y - 1}" width="${cell + 2}" height="${cell + 2}" fill="none" stroke="${frame}" stroke-width="2"/>`
      : '');
  rows.forEach((row, ri) => {
    const y = 46 + ri * (cell + 6);
    parts.push(
      `<text x="${x0 - 6}" y="${y + cell / 2 + 4}" font-size="11" text-anchor="end">${esc(classes[row.query.label] ?? String(row.query.label))}</text>`,
    );
    parts.push(img(row.query, x0, y));
    row.neighbours.forEach((ns, mi) =>
      ns.forEach((t, j) => parts.push(img(t, colX(mi, j), y, t.label === row.query.label ? '#2ca02c' : '#d62728'))),
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">${parts.join('')}</svg>\n`;
}

/** The 2-D projection as a scatter plot, one dot per test image coloured by class, with a legend. */
export function embeddingSvg(title: string, projection: Projection, labels: ArrayLike<number>, classes: string[], size = 420): string {
  const n = labels.length;
  const p = projection.points;
  if (p.length !== 2 * n) throw new Error(`embeddingSvg: ${p.length / 2} points for ${n} labels`);
  const pad = 20;
  let [minX, maxX, minY, maxY] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < n; i++) {
    minX = Math.min(minX, p[2 * i]);
    maxX = Math.max(maxX, p[2 * i]);
    minY = Math.min(minY, p[2 * i + 1]);
    maxY = Math.max(maxY, p[2 * i + 1]);
  }
  // One scale for both axes (distances stay true), each axis centred in the square.
  const span = Math.max(maxX - minX, maxY - minY, 1e-9);
  const [cx, cy] = [(minX + maxX) / 2, (minY + maxY) / 2];
  const sx = (v: number) => size / 2 + ((v - cx) / span) * (size - 2 * pad);
  const sy = (v: number) => 30 + size / 2 - ((v - cy) / span) * (size - 2 * pad);
  const explained = projection.variances.map((v) => (100 * v) / (projection.total || 1));
  const parts = [
    `<text x="${(size + 130) / 2}" y="16" font-size="13" text-anchor="middle">${esc(title)}</text>`,
    `<text x="${size / 2}" y="${size + 46}" font-size="11" text-anchor="middle">PC1 (${explained[0].toFixed(0)}% of variance) · PC2 (${explained[1].toFixed(0)}%)</text>`,
  ];
  for (let i = 0; i < n; i++) {
    parts.push(
      `<circle class="point" cx="${sx(p[2 * i]).toFixed(1)}" cy="${sy(p[2 * i + 1]).toFixed(1)}" r="2.2" fill="${CLASS_COLORS[labels[i] % 10]}" fill-opacity="0.75"/>`,
    );
  }
  classes.forEach((c, ci) =>
    parts.push(
      `<rect x="${size + 4}" y="${36 + ci * 16}" width="10" height="10" fill="${CLASS_COLORS[ci % 10]}"/>` +
        `<text x="${size + 18}" y="${45 + ci * 16}" font-size="11">${esc(c)}</text>`,
    ),
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size + 130}" height="${size + 56}" font-family="sans-serif">${parts.join('')}</svg>\n`;
}

/**
 * The queue as a strip of K slots: shade = age of the key in steps (dark = just written, light =
 * old, grey = the random keys it started with), a red mark at the pointer (the next slot written).
 */
export function queueSvg(writtenAt: Int32Array, ptr: number, step: number, width = 560): string {
  const K = writtenAt.length;
  const h = 28;
  const parts: string[] = [];
  const filled = writtenAt.reduce((n, s) => n + (s >= 0 ? 1 : 0), 0);
  let oldest = 1;
  for (const s of writtenAt) if (s >= 0) oldest = Math.max(oldest, step - s);
  // Consecutive slots written by the same step are one rectangle.
  for (let i = 0; i < K;) {
    let j = i + 1;
    while (j < K && writtenAt[j] === writtenAt[i]) j++;
    const age = writtenAt[i] < 0 ? -1 : step - writtenAt[i];
    const fill = age < 0 ? '#ddd' : `hsl(210, 70%, ${(25 + 60 * (age / oldest)).toFixed(0)}%)`;
    parts.push(
      `<rect class="slot" x="${((i / K) * width).toFixed(2)}" y="20" width="${(((j - i) / K) * width).toFixed(2)}" height="${h}" fill="${fill}"><title>slots ${i}–${j - 1}: ${age < 0 ? 'initial random keys' : `age ${age} steps`}</title></rect>`,
    );
    i = j;
  }
  const px = (ptr / K) * width;
  parts.push(
    `<path class="pointer" d="M${px.toFixed(1)},${20 + h + 10} l-5,8 l10,0 z" fill="#d62728"/><line x1="${px.toFixed(1)}" x2="${px.toFixed(1)}" y1="18" y2="${20 + h + 2}" stroke="#d62728" stroke-width="2"/>`,
  );
  parts.push(
    `<text x="0" y="13" font-size="11">queue: ${filled} of ${K} slots hold keys of this run, pointer at ${ptr}, oldest key ${filled ? oldest : 0} steps old</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${h + 44}" font-family="sans-serif" data-ptr="${ptr}">${parts.join('')}</svg>\n`;
}

// ---------------------------------------------------------------------------------------------
// Whole pictures from features: what the CLI writes at the end of a run and the page redraws.

/** Image `i` of a dataset as a data URI. */
export function thumb(ds: ImageDataset, i: number): Thumb {
  return { uri: pngDataUri(toFloat(ds, [i]), ds.width, ds.height, ds.channels === 3 ? 3 : 1), label: ds.labels[i] };
}

/** Features of one way of seeing the images: the training bank (or its row blocks) and the test rows. */
export interface FeatureSet {
  name: string;
  train: Tensor | Tensor[];
  test: Tensor;
}

/**
 * The retrieval grid of `queries` test images (one per class first, see pickQueries) and their
 * `k` nearest training images under each feature set.
 */
export async function retrievalPicture(
  trainSet: ImageDataset,
  testSet: ImageDataset,
  methods: FeatureSet[],
  opts: { queries?: number; k?: number; title?: string } = {},
): Promise<string> {
  const picked = pickQueries(testSet.labels, opts.queries ?? 8);
  const k = Math.min(opts.k ?? 5, trainSet.count);
  const perMethod: number[][][] = [];
  for (const m of methods) {
    const q = noGrad(() => indexSelect(m.test, 0, picked));
    perMethod.push(await nearestNeighbours(m.train, q, k));
    q.dispose();
  }
  const rows = picked.map((qi, r) => ({
    query: thumb(testSet, qi),
    neighbours: perMethod.map((nb) => nb[r].map((j) => thumb(trainSet, j))),
  }));
  return retrievalSvg(
    opts.title ?? `nearest training images (cosine similarity, ${trainSet.name})`,
    methods.map((m) => m.name),
    rows,
    testSet.classes,
  );
}

/** The test embeddings' 2-D PCA as a scatter plot (at most `maxPoints`, the first ones). */
export async function embeddingPicture(
  testFeatures: Tensor,
  testSet: ImageDataset,
  opts: { maxPoints?: number; title?: string } = {},
): Promise<{ svg: string; projection: Projection }> {
  const n = Math.min(testSet.count, opts.maxPoints ?? 2000);
  const f = n < testFeatures.shape[0] ? testFeatures.slice(0, 0, n) : testFeatures;
  const projection = await pca2d(f);
  if (f !== testFeatures) f.dispose();
  const svg = embeddingSvg(
    opts.title ?? `test embeddings, PCA to 2-D (${n} ${testSet.name} images)`,
    projection,
    testSet.labels.subarray(0, n),
    testSet.classes,
  );
  return { svg, projection };
}

/** Raw pixels as features: [N, C·H·W] rows of one dataset (the retrieval baseline). */
export function pixelFeatures(ds: ImageDataset): Tensor {
  return fromArray(toFloat(ds), [ds.count, imageSize(ds)]);
}
