// NNCLR's support set: the nearest-neighbour lookup against a float64 reference (first index on
// ties, only written rows searched before the set is full, z itself before the first enqueue),
// and the FIFO update with its fill count.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setup, randnSeeded, assertClose } from '../helpers.ts';
import { SupportSet } from '../../src/moco/support-set.ts';
import { normalize } from '../../src/ops/norm.ts';
import { fromArray } from '../../src/ops/creation-internal.ts';
import { Generator } from '../../src/random.ts';

test.before(setup);

/** float64 nearest neighbours among rows 0..filled-1: largest dot product, lowest index on ties. */
function referenceNearest(rows: Float32Array, filled: number, z: Float32Array, dim: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < z.length / dim; i++) {
    let best = -1;
    let bestSim = -Infinity;
    for (let r = 0; r < filled; r++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += z[i * dim + d] * rows[r * dim + d];
      if (s > bestSim) [best, bestSim] = [r, s];
    }
    out.push(best);
  }
  return out;
}

function unitRows(n: number, dim: number, seed: number): Float32Array {
  const g = new Generator(seed);
  const a = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += (a[i * dim + d] = g.normal()) ** 2;
    for (let d = 0; d < dim; d++) a[i * dim + d] /= Math.sqrt(s);
  }
  return a;
}

for (const [size, written, batch] of [
  [16, 5, 5],
  [16, 11, 4],
  [16, 16, 8],
  [16, 23, 8],
  [12, 30, 6],
]) {
  test(`nearest neighbours: support set of ${size} after ${written} rows, queries drawn near written rows`, async () => {
    const dim = 6;
    const s = new SupportSet({ size, dim, generator: new Generator(1) });
    const rows = unitRows(written, dim, 7 + written);
    for (let r = 0; r < written; r += batch) {
      const n = Math.min(batch, written - r);
      s.enqueue(fromArray(rows.subarray(r * dim, (r + n) * dim), [n, dim]));
    }
    assert.is(s.filled, Math.min(size, written));
    const snap = await s.snapshot();
    // Queries: 20 random unit vectors and a perturbed copy of every stored row.
    const z = new Float32Array((20 + s.filled) * dim);
    z.set(unitRows(20, dim, 99));
    const noise = unitRows(s.filled, dim, 5);
    for (let r = 0; r < s.filled; r++) for (let d = 0; d < dim; d++) z[(20 + r) * dim + d] = snap[r * dim + d] + 0.05 * noise[r * dim + d];
    const zt = normalize(fromArray(z, [z.length / dim, dim]));
    const zn = await zt.toArray();
    const { neighbours, indices } = s.nearest(zt);
    const got = Array.from(await indices!.toArray());
    const want = referenceNearest(snap, s.filled, zn, dim);
    assert.equal(got, want, 'indices');
    const nb = await neighbours.toArray();
    want.forEach((r, i) => assertClose(nb.subarray(i * dim, (i + 1) * dim), snap.subarray(r * dim, (r + 1) * dim), 0, `row of query ${i}`));
    if (s.filled < size) assert.ok(Math.max(...got) < s.filled, 'unwritten (random initial) rows are never neighbours');
  });
}

test('nearest neighbours: exact ties go to the first row, as torch.argmax', async () => {
  const dim = 4;
  const s = new SupportSet({ size: 8, dim });
  // Rows 1, 3 and 4 are the same vector; row 6 is another copy of row 2.
  const base = unitRows(5, dim, 3);
  const pick = [0, 1, 2, 1, 1, 3, 2, 4];
  const rows = new Float32Array(8 * dim);
  pick.forEach((p, r) => rows.set(base.subarray(p * dim, (p + 1) * dim), r * dim));
  s.enqueue(fromArray(rows, [8, dim]));
  const z = fromArray(base.subarray(dim, 3 * dim), [2, dim]); // the duplicated vectors themselves
  const got = Array.from(await s.nearest(z).indices!.toArray());
  assert.equal(got, referenceNearest(rows, 8, await z.toArray(), dim));
  assert.equal(got, [1, 2]);
});

test('before the first enqueue the positive is z itself; the FIFO update wraps and counts rows', async () => {
  const dim = 3;
  const s = new SupportSet({ size: 5, dim, generator: new Generator(2) });
  const z = normalize(randnSeeded([2, dim], 4));
  const first = s.nearest(z);
  assert.is(first.indices, null);
  assertClose(await first.neighbours.toArray(), await z.toArray(), 0, 'z itself');
  s.enqueue(z);
  s.enqueue(normalize(randnSeeded([4, dim], 5)));
  assert.is(s.queue.ptr, 1);
  assert.is(s.filled, 5);
});

test.run();
