import { gzipSync } from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeIdx, parseIdx } from '../../src/data/idx.ts';
import { throwsWith } from './helpers.ts';

const images = Uint8Array.from({ length: 3 * 4 * 5 }, (_, i) => (i * 13) % 256);
const imageFile = encodeIdx([3, 4, 5], images);

test('header layout: magic 0x00000803, big-endian dims', () => {
  assert.equal(Array.from(imageFile.subarray(0, 16)), [0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5]);
  const labels = encodeIdx([70000], new Uint8Array(70000));
  assert.equal(Array.from(labels.subarray(0, 8)), [0, 0, 8, 1, 0, 1, 0x11, 0x70]);
});

test('parse(encode(x)) == x for images and labels', () => {
  const parsed = parseIdx(imageFile);
  assert.equal(parsed.dims, [3, 4, 5]);
  assert.equal(Array.from(parsed.data), Array.from(images));
  const labels = parseIdx(encodeIdx([4], Uint8Array.of(9, 0, 3, 7)));
  assert.equal(labels.dims, [4]);
  assert.equal(Array.from(labels.data), [9, 0, 3, 7]);
});

test('parse works on a view with a byte offset', () => {
  const padded = new Uint8Array(imageFile.length + 3);
  padded.set(imageFile, 3);
  assert.equal(Array.from(parseIdx(padded.subarray(3)).data), Array.from(images));
});

test('truncated file: expected vs actual byte counts, and the source name', () => {
  const cut = imageFile.subarray(0, imageFile.length - 1);
  throwsWith(() => parseIdx(cut, 'x.idx'), 'x.idx', 'truncated', `need ${imageFile.length} bytes`, `got ${cut.length}`);
  throwsWith(() => parseIdx(imageFile.subarray(0, 10)), 'truncated', 'expected 16 header bytes', 'got 10');
  throwsWith(() => parseIdx(new Uint8Array(2)), 'truncated', 'got 2');
});

test('trailing bytes are an error too', () => {
  const long = new Uint8Array(imageFile.length + 2);
  long.set(imageFile);
  throwsWith(() => parseIdx(long), 'trailing bytes', `need ${imageFile.length}`, `got ${long.length}`);
});

test('bad magic names the magic; gzip data gets a hint', () => {
  const bad = imageFile.slice();
  bad[0] = 0x12;
  throwsWith(() => parseIdx(bad, 'bad.idx'), 'bad.idx', 'bad IDX magic 0x12000803', '0x00000803');
  throwsWith(() => parseIdx(gzipSync(imageFile)), 'bad IDX magic 0x1f8b', 'gzip');
});

test('unsupported element type says which one is supported', () => {
  const float = imageFile.slice();
  float[2] = 0x0d;
  throwsWith(() => parseIdx(float), 'unsupported IDX element type 0x0d (float)', '0x08 (unsigned byte)');
});

test('encodeIdx rejects data that does not fit the dims', () => {
  throwsWith(() => encodeIdx([2, 2], new Uint8Array(3)), 'hold 4 values', 'has 3');
});

test.run();
