// sort / argsort / topk on the GPU (bitonic network) against a host reference: a stable sort of
// (value, index) in float64 with NaN larger than every number, as torch.sort(stable=True) and
// torch.topk order them. Odd lengths (padding), ties, NaN, every dim, rank 0, strided views, and
// the gradient of the values (finite differences).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setup, checkGrad, randnSeeded } from '../helpers.ts';
import { tensor, sort, argsort, topk, type Tensor } from '../../src/index.ts';

test.before(setup);

/** Stable order of one row: ascending, or descending; NaN largest. */
function refOrder(row: number[], descending: boolean): number[] {
  const key = (v: number) => (Number.isNaN(v) ? Infinity : v);
  const cmp = (a: number, b: number) => {
    const [va, vb] = [row[a], row[b]];
    if (Number.isNaN(va) !== Number.isNaN(vb)) return (Number.isNaN(va) ? 1 : -1) * (descending ? -1 : 1);
    const d = key(va) - key(vb);
    return (d === 0 || Number.isNaN(d) ? 0 : Math.sign(d) * (descending ? -1 : 1)) || a - b;
  };
  return row.map((_, i) => i).sort(cmp);
}

/** Reference indices and values of x (host data, shape) sorted along dim, first k per row. */
function refSort(data: ArrayLike<number>, shape: number[], dim: number, descending: boolean, k: number) {
  const n = shape[dim];
  const inner = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
  const outer = shape.slice(0, dim).reduce((a, b) => a * b, 1);
  const idx: number[] = new Array(outer * k * inner);
  const val: number[] = new Array(outer * k * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const row = Array.from({ length: n }, (_, j) => data[(o * n + j) * inner + i]);
      refOrder(row, descending)
        .slice(0, k)
        .forEach((j, r) => {
          idx[(o * k + r) * inner + i] = j;
          val[(o * k + r) * inner + i] = row[j];
        });
    }
  }
  return { idx, val };
}

async function check(x: Tensor, dim: number, descending: boolean, k: number | null, what: string) {
  const data = Array.from(await x.toArray());
  const shape = x.ndim === 0 ? [1] : [...x.shape];
  const d = dim < 0 ? dim + shape.length : dim;
  const kk = k ?? shape[d];
  const want = refSort(data, shape, d, descending, kk);
  const got = k === null ? sort(x, dim, descending) : topk(x, k, dim, descending);
  assert.is(got.indices.dtype, 'int32', what);
  const wantShape = x.ndim === 0 ? [] : shape.map((s, i) => (i === d ? kk : s));
  assert.equal(got.indices.shape, wantShape, `${what}: shape`);
  assert.equal(Array.from(await got.indices.toArray<Int32Array>()), want.idx, `${what}: indices`);
  const vals = Array.from(await got.values.toArray());
  vals.forEach((v, i) => assert.ok(Object.is(v, want.val[i]) || v === want.val[i], `${what}: value ${i}: ${v} vs ${want.val[i]}`));
  if (k === null) assert.equal(Array.from(await argsort(x, dim, descending).toArray<Int32Array>()), want.idx, `${what}: argsort`);
}

test('sort and argsort vs the host reference: odd lengths, ties, NaN, every dim, both orders', async () => {
  // Values rounded to a few levels, so that rows have many ties, plus NaN and ±Infinity.
  const base = await randnSeeded([5, 37], 1).toArray();
  const data = Array.from(base, (v, i) =>
    i % 17 === 3 ? NaN : i % 23 === 5 ? -Infinity : i % 29 === 7 ? Infinity : Math.round(v * 2) / 2,
  );
  const x = tensor(data, [5, 37]);
  for (const dim of [0, 1, -1])
    for (const descending of [false, true]) await check(x, dim, descending, null, `sort dim ${dim} desc ${descending}`);
  // Rank 3, a non-contiguous (transposed) view, lengths 1, 2, 3, 7.
  const y = randnSeeded([7, 3, 2], 2).transpose(0, 2);
  for (const dim of [0, 1, 2]) await check(y, dim, dim === 1, null, `strided rank-3 sort dim ${dim}`);
  await check(randnSeeded([4, 1], 3), 1, false, null, 'rows of length 1');
  await check(tensor(2.5), 0, false, null, 'rank 0');
  await check(randnSeeded([2, 1000], 4), 1, true, null, 'rows of 1000 (padded to 1024)');
});

test('topk vs the host reference: largest and smallest, k = 0, 1, n, ties and padding', async () => {
  const x = tensor(
    Array.from(await randnSeeded([6, 300], 5).toArray(), (v) => Math.round(v * 4) / 4),
    [6, 300],
  );
  for (const k of [0, 1, 5, 300]) for (const largest of [true, false]) await check(x, 1, largest, k, `topk k=${k} largest ${largest}`);
  await check(randnSeeded([9, 4], 6).T, 0, true, 3, 'topk along dim 0 of a transposed view');
  const { values, indices } = topk(tensor([1, 9, 3, 7]), 2);
  assert.equal(Array.from(await values.toArray()), [9, 7]);
  assert.equal(Array.from(await indices.toArray<Int32Array>()), [1, 3]);
  assert.throws(
    () => topk(tensor([1, 2]), 3),
    /topk: k = 3 is out of range for dim 0 of size 2 \(shape \[2\]\); k must be an integer in 0\.\.2/,
  );
  assert.throws(() => sort(tensor([1], undefined, { dtype: 'int32' })), /sort: sorts float32 tensors, got int32/);
  assert.throws(() => sort(tensor([[1]]), 2), /sort: dim 2 is out of range/);
});

test('gradients of sort and topk values: the incoming gradient goes back to the picked elements', async () => {
  await checkGrad((a) => sort(a, 1, true).values.mul(tensor([1, 2, 3, 4, 5, 6, 7])), [randnSeeded([3, 7], 7)], {}, 'sort values');
  await checkGrad((a) => topk(a, 2, 0).values, [randnSeeded([5, 3], 8)], {}, 'topk values along dim 0');
  await checkGrad((a) => topk(a.T, 3, 1, false).values.square(), [randnSeeded([6, 2], 9)], {}, 'topk of a transposed view');
  // Closed form: d/dx sum(topk(x, 2).values) is 1 at the two largest, 0 elsewhere.
  const leaf = tensor([0.5, 3, -1, 2], undefined, { requiresGrad: true });
  topk(leaf, 2).values.sum().backward();
  assert.equal(Array.from(await leaf.grad!.toArray()), [0, 1, 0, 1]);
});

test.run();
