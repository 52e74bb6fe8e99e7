import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setup } from '../helpers.ts';
import { flattenImages, knnAccuracy } from '../../src/moco/knn.ts';
import { tensor } from '../../src/index.ts';
import { Generator } from '../../src/random.ts';

test.before(setup);

/** Float64 reference: weighted vote of the top-k cosine neighbours. */
function refKnn(train: number[][], yTrain: number[], test: number[][], yTest: number[], k: number, t: number, classes: number): number {
  const norm = (v: number[]) => {
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  };
  const tr = train.map(norm);
  let correct = 0;
  test.map(norm).forEach((q, i) => {
    const sims = tr.map((x, j) => ({ s: x.reduce((a, v, d) => a + v * q[d], 0), y: yTrain[j] }));
    sims.sort((a, b) => b.s - a.s);
    const votes = new Array(classes).fill(0);
    for (const { s, y } of sims.slice(0, k)) votes[y] += Math.exp(s / t);
    if (votes.indexOf(Math.max(...votes)) === yTest[i]) correct++;
  });
  return (100 * correct) / test.length;
}

test('knnAccuracy equals a float64 reference on random clustered data', async () => {
  const g = new Generator(4);
  const classes = 3;
  const D = 6;
  const centers = Array.from({ length: classes }, () => Array.from({ length: D }, () => g.normal()));
  const sample = (n: number) => {
    const x: number[][] = [];
    const y: number[] = [];
    for (let i = 0; i < n; i++) {
      const c = g.int(classes);
      x.push(centers[c].map((v) => v + 1.2 * g.normal()));
      y.push(c);
    }
    return { x, y };
  };
  const tr = sample(150);
  const te = sample(60);
  for (const k of [1, 5, 20]) {
    const got = await knnAccuracy(tensor(tr.x), Int32Array.from(tr.y), tensor(te.x), te.y, { k, t: 0.1, chunk: 7 });
    const want = refKnn(tr.x, tr.y, te.x, te.y, k, 0.1, classes);
    assert.ok(Math.abs(got - want) < 1e-9, `k=${k}: ${got} vs ${want}`);
    // The same bank given as row blocks (as for banks larger than one GPU buffer).
    const blocks = [tr.x.slice(0, 40), tr.x.slice(40, 41), tr.x.slice(41)].map((rows) => tensor(rows));
    const fromBlocks = await knnAccuracy(blocks, tr.y, tensor(te.x), te.y, { k, t: 0.1, chunk: 7 });
    assert.ok(Math.abs(fromBlocks - want) < 1e-9, `k=${k}, blocks: ${fromBlocks} vs ${want}`);
  }
});

test('knnAccuracy checks shapes and label counts', async () => {
  let msg = '';
  try {
    await knnAccuracy(tensor([[1, 0]]), [0, 1], tensor([[1, 0]]), [0]);
  } catch (e) {
    msg = (e as Error).message;
  }
  assert.match(msg, /1 train features but 2 labels/);
  // Row blocks of raw images: the last block takes the rest; a block must hold at least a row.
  const blocks = flattenImages(
    Float32Array.from({ length: 12 }, (_, i) => i),
    4,
    3,
  );
  assert.equal(
    blocks.map((b) => b.shape),
    [
      [3, 3],
      [1, 3],
    ],
  );
  assert.equal(Array.from(await blocks[1].toArray()), [9, 10, 11]);
  assert.throws(() => flattenImages(new Float32Array(12), 4, 0), /maxRows must be a positive integer, got 0/);
});

async function message(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  return 'no error';
}

test('knnAccuracy refuses bad options and labels, naming the value', async () => {
  const x = () =>
    tensor([
      [1, 0],
      [0, 1],
    ]);
  const run = (yTrain: ArrayLike<number>, yTest: ArrayLike<number>, opts: object) => message(knnAccuracy(x(), yTrain, x(), yTest, opts));
  assert.is(await run([0, 1], [0, 1], { k: 0 }), 'knnAccuracy: k must be an integer >= 1 (got 0)');
  assert.is(await run([0, 1], [0, 1], { k: -1 }), 'knnAccuracy: k must be an integer >= 1 (got -1)');
  assert.is(await run([0, 1], [0, 1], { k: 1.5 }), 'knnAccuracy: k must be an integer >= 1 (got 1.5)');
  assert.is(await run([0, 1], [0, 1], { t: 0 }), 'knnAccuracy: t (the temperature) must be a finite number > 0 (got 0)');
  assert.is(await run([0, 1], [0, 1], { t: NaN }), 'knnAccuracy: t (the temperature) must be a finite number > 0 (got NaN)');
  assert.is(await run([0, 1], [0, 1], { classes: 0 }), 'knnAccuracy: classes must be an integer >= 1 (got 0)');
  assert.is(await run([0, -1], [0, 1], {}), 'knnAccuracy: train label -1 at position 1 is not valid; labels must be integers >= 0');
  assert.is(await run([0, 1], [0.5, 1], {}), 'knnAccuracy: test label 0.5 at position 0 is not valid; labels must be integers >= 0');
  assert.is(
    await run([0, 2], [0, 1], { classes: 2 }),
    'knnAccuracy: train label 2 at position 1 is not valid; labels must be integers in 0..1 (classes: 2)',
  );
  assert.is(await run([0, 1], [0, 1], { k: 1, classes: 2 }), 'no error');
  // A label tensor is checked too (no silent rounding).
  assert.match(await message(knnAccuracy(x(), tensor([0, 1.25]), x(), [0, 1])), /train label 1.25 at position 1/);
});

test('knnAccuracy: huge labels and a 200,000-row bank give the answer of small dense labels', async () => {
  const g = new Generator(9);
  const n = 200_000;
  const xs = Float32Array.from({ length: 2 * n }, () => g.normal());
  const dense = Int32Array.from({ length: n }, (_, i) => (xs[2 * i] > 0 ? 1 : 0) + (xs[2 * i + 1] > 0 ? 2 : 0));
  const q = Float32Array.from({ length: 2 * 20 }, () => g.normal());
  const qy = Int32Array.from({ length: 20 }, (_, i) => (q[2 * i] > 0 ? 1 : 0) + (q[2 * i + 1] > 0 ? 2 : 0));
  const bank = flattenImages(xs, n);
  const queries = flattenImages(q, 20);
  const want = await knnAccuracy(bank, dense, queries, qy, { k: 20 });
  assert.ok(want > 80, `quadrant labels are easy: ${want}%`);
  const t0 = Date.now();
  const big = [0, 1e9, 2 ** 31 - 1, 7];
  const got = await knnAccuracy(
    bank,
    Int32Array.from(dense, (c) => big[c]),
    queries,
    Int32Array.from(qy, (c) => big[c]),
    { k: 20 },
  );
  assert.is(got, want);
  assert.ok(Date.now() - t0 < 20_000, `labels up to 2^31 - 1 took ${Date.now() - t0} ms`);
  bank.dispose();
  queries.dispose();
});

test('knnAccuracy of NaN features is an error, not an accuracy', async () => {
  const msg = await message(
    knnAccuracy(
      tensor([
        [NaN, 0],
        [0, 1],
      ]),
      [0, 1],
      tensor([[1, 0]]),
      [0],
      { k: 1 },
    ),
  );
  assert.is(
    msg,
    'knnAccuracy: the features hold NaN or ±Inf (the similarity of test row 0 and train row 0 is NaN); no accuracy can be computed from them',
  );
});

test.run();
