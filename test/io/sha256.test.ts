// The plain-TypeScript SHA-256 (the run checkpoint's digest, browser-safe) against Node's
// OpenSSL one: lengths around the 55/56/64-byte padding edges, text, and updates in pieces.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { Sha256 } from '../../src/io/sha256.ts';

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 2654435761 + seed * 97) >>> 24);

test('matches node:crypto at the padding edges and beyond', () => {
  for (const n of [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 100_003]) {
    const data = bytes(n, n);
    assert.is(new Sha256().update(data).hex(), createHash('sha256').update(data).digest('hex'), `${n} bytes`);
  }
  assert.is(
    new Sha256().update('abc').hex(),
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    'FIPS 180-4 example "abc"',
  );
});

test('updates in pieces of any size give the digest of the whole', () => {
  const data = bytes(5000, 3);
  const want = createHash('sha256').update(data).update('µ-text').digest('hex');
  for (const piece of [1, 7, 63, 64, 65, 999]) {
    const h = new Sha256();
    for (let i = 0; i < data.length; i += piece) h.update(data.subarray(i, i + piece));
    assert.is(h.update('µ-text').hex(), want, `pieces of ${piece}`);
  }
});

test.run();
