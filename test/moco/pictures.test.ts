// The run pictures (src/moco/pictures.ts): PNG bytes decoded by zlib, nearest neighbours against a
// float64 brute force, the PCA against numpy's eigh and the eigen-equation in float64, and the
// CLI's retrieval.svg / embedding.svg of a tiny run parsed by Python's XML parser.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { inflateSync } from 'node:zlib';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setup, randnSeeded } from '../helpers.ts';
import { fromArray } from '../../src/ops/creation-internal.ts';
import { encodePng, nearestNeighbours, pca2d, pickQueries, recordEnqueue, queueSvg } from '../../src/moco/pictures.ts';
import { findPythonWithNumpy, runPython } from '../io/python.ts';
import { runCli, tinyTrainArgs } from '../reliability/cli.ts';
import { FASHION_MNIST_DIR } from '../../src/data/node-files.ts';

test.before(setup);

/** CRC-32 bit by bit (no table), to check the encoder's table-driven one. */
function crcBitwise(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

test('encodePng: chunks with valid CRCs, IDAT inflates to the pixels (gray and RGB, > 64 KiB)', () => {
  for (const [w, h, ch] of [
    [3, 2, 1],
    [200, 120, 3],
  ] as const) {
    const px = Float32Array.from({ length: w * h * ch }, (_, i) => ((i * 37) % 256) / 255);
    const png = encodePng(px, w, h, ch);
    assert.equal([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
    const view = new DataView(png.buffer, png.byteOffset);
    let o = 8;
    const chunks: Record<string, Uint8Array> = {};
    while (o < png.length) {
      const len = view.getUint32(o);
      const type = String.fromCharCode(...png.subarray(o + 4, o + 8));
      assert.is(view.getUint32(o + 8 + len), crcBitwise(png.subarray(o + 4, o + 8 + len)), `${type} CRC`);
      chunks[type] = png.subarray(o + 8, o + 8 + len);
      o += 12 + len;
    }
    assert.equal(Object.keys(chunks), ['IHDR', 'IDAT', 'IEND']);
    const ihdr = new DataView(chunks.IHDR.buffer, chunks.IHDR.byteOffset);
    assert.equal([ihdr.getUint32(0), ihdr.getUint32(4), chunks.IHDR[8], chunks.IHDR[9]], [w, h, 8, ch === 1 ? 0 : 2]);
    const raw = inflateSync(chunks.IDAT); // checks the Adler-32 too
    assert.is(raw.length, h * (1 + w * ch));
    for (let y = 0; y < h; y++) {
      assert.is(raw[y * (1 + w * ch)], 0, 'filter type');
      for (let x = 0; x < w; x++)
        for (let c = 0; c < ch; c++) {
          assert.is(raw[y * (1 + w * ch) + 1 + x * ch + c], ((c * w * h + y * w + x) * 37) % 256, `pixel (${c}, ${y}, ${x})`);
        }
    }
  }
  assert.throws(() => encodePng(new Float32Array(5), 2, 2, 1), /5 values do not make a 1×2×2 image/);
});

test('nearestNeighbours: the k most cosine-similar rows, as a float64 brute force, over row blocks', async () => {
  const [n, d, q, k] = [300, 12, 7, 6];
  const bank = Array.from(await randnSeeded([n * d], 5).toArray());
  const queries = Array.from(await randnSeeded([q * d], 6).toArray());
  const norm = (v: number[], i: number) => Math.hypot(...v.slice(i * d, (i + 1) * d));
  const want = Array.from({ length: q }, (_, r) =>
    Array.from({ length: n }, (_, j) => {
      let s = 0;
      for (let l = 0; l < d; l++) s += queries[r * d + l] * bank[j * d + l];
      return [s / norm(queries, r) / norm(bank, j), j];
    })
      .sort((a, b) => b[0] - a[0])
      .slice(0, k)
      .map((p) => p[1]),
  );
  const qs = fromArray(queries, [q, d]);
  const whole = fromArray(bank, [n, d]);
  assert.equal(await nearestNeighbours(whole, qs, k), want);
  const blocks = [fromArray(bank.slice(0, 100 * d), [100, d]), fromArray(bank.slice(100 * d), [200, d])];
  assert.equal(await nearestNeighbours(blocks, qs, k), want);
  const err = await nearestNeighbours(whole, qs, n + 1).then(
    () => null,
    (e: Error) => e.message,
  );
  assert.match(err ?? 'resolved', /k must be an integer in 1\.\.300/);
  for (const t of [qs, whole, ...blocks]) t.dispose();
});

test('pca2d: axes satisfy C·u = λ·u in float64, λ are the two largest eigenvalues (numpy eigh), points = centred rows · axes', async () => {
  const [n, d] = [400, 10];
  // Anisotropic data so the top two eigenvalues are well separated.
  const raw = Array.from(
    await randnSeeded([n * d], 9).toArray(),
    (v, i) => v * [5, 3, 1.5, 1, 1, 0.8, 0.6, 0.5, 0.4, 0.3][i % d] + (i % d === 0 ? 2 : 0),
  );
  const x = fromArray(raw, [n, d]);
  const p = await pca2d(x);
  x.dispose();
  // float64: normalise rows, centre, covariance.
  const rows = Array.from({ length: n }, (_, i) => {
    const r = raw.slice(i * d, (i + 1) * d);
    const s = Math.hypot(...r);
    return r.map((v) => v / s);
  });
  const mean = Array.from({ length: d }, (_, j) => rows.reduce((s, r) => s + r[j], 0) / n);
  const xc = rows.map((r) => r.map((v, j) => v - mean[j]));
  const c = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => xc.reduce((s, r) => s + r[i] * r[j], 0) / n));
  for (let a = 0; a < 2; a++) {
    const u = p.axes[a];
    assert.ok(Math.abs(Math.hypot(...u) - 1) < 1e-9, 'unit axis');
    const cu = c.map((row) => row.reduce((s, v, j) => s + v * u[j], 0));
    const resid = Math.hypot(...cu.map((v, i) => v - p.variances[a] * u[i]));
    assert.ok(resid < 1e-5 * p.variances[0], `axis ${a}: |C·u − λ·u| = ${resid}`);
    for (let i = 0; i < n; i += 37) {
      const want = xc[i].reduce((s, v, j) => s + v * u[j], 0);
      assert.ok(Math.abs(p.points[2 * i + a] - want) < 1e-5, `point ${i}, axis ${a}: ${p.points[2 * i + a]} vs ${want}`);
    }
  }
  assert.ok(Math.abs(p.axes[0].reduce((s, v, i) => s + v * p.axes[1][i], 0)) < 1e-6, 'orthogonal axes');
  assert.ok(Math.abs(p.total - c.reduce((s, r, i) => s + r[i], 0)) < 1e-5, 'trace');
  const python = findPythonWithNumpy();
  if (!python) {
    console.log('  skipped: the numpy eigenvalue comparison (no python3 with numpy)');
    return;
  }
  const top = JSON.parse(
    runPython(
      python,
      'import json,sys,numpy as np\nc=np.array(json.loads(sys.argv[1]))\nprint(json.dumps(sorted(np.linalg.eigvalsh(c).tolist())[::-1][:2]))',
      [JSON.stringify(c)],
    ),
  );
  for (let a = 0; a < 2; a++)
    assert.ok(Math.abs(p.variances[a] - top[a]) < 1e-5 * top[0], `λ${a + 1}: ${p.variances[a]} vs numpy ${top[a]}`);
});

test('pickQueries: one per class first; recordEnqueue + queueSvg: slots, ages, pointer', () => {
  assert.equal(pickQueries([2, 0, 2, 1, 0, 1], 5), [1, 3, 0, 4, 5]);
  const written = new Int32Array(10).fill(-1);
  recordEnqueue(written, 0, 4, 1);
  recordEnqueue(written, 4, 4, 2);
  recordEnqueue(written, 8, 4, 3); // wraps: slots 8, 9, 0, 1
  assert.equal([...written], [3, 3, 1, 1, 2, 2, 2, 2, 3, 3]);
  const svg = queueSvg(written, 2, 3);
  assert.match(svg, /data-ptr="2"/);
  assert.match(svg, /10 of 10 slots hold keys of this run, pointer at 2, oldest key 2 steps old/);
  assert.is(svg.match(/class="slot"/g)!.length, 4);
});

/** Counts of elements by tag in an SVG file, by Python's XML parser (so the file must be well formed). */
function svgCounts(python: string, file: string): Record<string, number> {
  return JSON.parse(
    runPython(
      python,
      'import sys,json,collections,xml.etree.ElementTree as E\n' +
        'c=collections.Counter(e.tag.split("}")[-1] for e in E.parse(sys.argv[1]).iter())\nprint(json.dumps(c))',
      [file],
    ),
  );
}

test('wgrad-moco train writes retrieval.svg (8 queries × (1 + 3 methods × 5) images) and embedding.svg (one point per test image)', async () => {
  if (!existsSync(FASHION_MNIST_DIR)) {
    console.log(`  skipped: Fashion-MNIST not found at ${FASHION_MNIST_DIR} (apt-get install dataset-fashion-mnist)`);
    return;
  }
  const python = findPythonWithNumpy();
  const out = mkdtempSync(join(tmpdir(), 'wgrad-pictures-'));
  try {
    const r = await runCli(tinyTrainArgs(out, 1));
    assert.is(r.code, 0, `train failed:\n${r.stdout}\n${r.stderr}`);
    const retrieval = readFileSync(join(out, 'retrieval.svg'), 'utf8');
    const embedding = readFileSync(join(out, 'embedding.svg'), 'utf8');
    const images = retrieval.match(/<image [^>]*href="data:image\/png;base64,([^"]+)"/g)!;
    assert.is(images.length, 8 * (1 + 3 * 5));
    // Every data URI is a 28×28 grayscale PNG.
    for (const m of images.slice(0, 20)) {
      const png = Buffer.from(/base64,([^"]+)"/.exec(m)![1], 'base64');
      assert.equal([png.readUInt32BE(16), png.readUInt32BE(20), png[25]], [28, 28, 0]);
    }
    assert.is(embedding.match(/class="point"/g)!.length, 50, 'one point per test image (--test-size 50)');
    if (!python) {
      console.log('  skipped: XML parse of the SVGs (no python3)');
      return;
    }
    assert.is(svgCounts(python, join(out, 'retrieval.svg')).image, 128);
    assert.is(svgCounts(python, join(out, 'embedding.svg')).circle, 50);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test.run();
