/** Shared bits for the test/data tests: temp folders and small synthetic datasets. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CIFAR10_RECORD_BYTES } from '../../src/data/cifar.ts';
import type { ImageDataset } from '../../src/data/dataset.ts';

/** Runs fn with a fresh temp folder and removes the folder afterwards. */
export function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'wgrad-data-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Asserts that fn throws and that the message contains every one of `parts`; returns the message. */
export function throwsWith(fn: () => unknown, ...parts: string[]): string {
  try {
    fn();
  } catch (e) {
    const msg = (e as Error).message;
    for (const p of parts) {
      if (!msg.includes(p)) throw new Error(`error message lacks ${JSON.stringify(p)}:\n${msg}`);
    }
    return msg;
  }
  throw new Error(`expected an error mentioning ${parts.map((p) => JSON.stringify(p)).join(', ')}`);
}

/** A count×channels×h×w dataset whose pixel bytes encode their own position. */
export function tinyDataset(count: number, channels = 2, height = 3, width = 4): ImageDataset {
  const size = channels * height * width;
  const images = Uint8Array.from({ length: count * size }, (_, i) => (i * 7 + 3) % 256);
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
  const classes = Array.from({ length: 10 }, (_, i) => `c${i}`);
  return { name: 'tiny', images, labels, count, channels, height, width, classes };
}

/** The value the test files give pixel (channel c, row y, column x) of record r. */
export const pixel = (r: number, c: number, y: number, x: number) => (r * 31 + c * 85 + y * 7 + x) % 256;

/** A CIFAR-10 batch written record by record, straight from the format description. */
export function cifarBatch(labels: number[], first = 0): Uint8Array {
  const out = new Uint8Array(labels.length * CIFAR10_RECORD_BYTES);
  let at = 0;
  labels.forEach((label, i) => {
    out[at++] = label;
    for (let c = 0; c < 3; c++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) out[at++] = pixel(first + i, c, y, x);
  });
  return out;
}
