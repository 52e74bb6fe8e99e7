// scatterAdd, embedding / nn.Embedding and oneHot: forward against the float64 reference (graph
// replay) and host-computed values, gradients against finite differences, int32 indices only.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setup, checkForward, checkGrad, randnSeeded } from '../helpers.ts';
import { tensor, zeros, scatterAdd, embedding, oneHot, nn, manualSeed } from '../../src/index.ts';

test.before(setup);

const int = (data: number[] | number[][], shape?: number[]) => tensor(data, shape, { dtype: 'int32' });

test('scatterAdd vs the reference and finite differences: each dim, repeated indices, strided inputs', async () => {
  const x = randnSeeded([4, 5, 3], 1);
  for (const dim of [0, 1, 2, -1]) {
    const d = dim < 0 ? dim + 3 : dim;
    const ishape = [...x.shape];
    ishape[d] = 6; // longer than the dim: repeated indices add up
    const n = x.shape[d];
    const index = tensor(
      Array.from({ length: ishape.reduce((a, b) => a * b, 1) }, (_, i) => (i * 5 + 1) % n),
      ishape,
      { dtype: 'int32' },
    );
    const src = randnSeeded(ishape, 2 + d);
    await checkForward((a, s) => scatterAdd(a, dim, index, s), [x, src], 1e-5, `scatterAdd dim ${dim}`);
    await checkGrad((a, s) => scatterAdd(a, dim, index, s).square(), [x, src], {}, `scatterAdd dim ${dim}`);
  }
  // A transposed x and src.
  const xt = randnSeeded([3, 4], 9).T;
  await checkGrad(
    (a, s) =>
      scatterAdd(
        a,
        0,
        int([
          [0, 3, 3],
          [1, 1, 2],
        ]),
        s,
      ),
    [xt, randnSeeded([3, 2], 10).T],
    {},
    'strided scatterAdd',
  );
  // Closed form (torch.zeros(3).scatter_add(0, torch.tensor([0, 2, 0]), torch.tensor([1., 2, 3])) = [4, 0, 2]).
  assert.equal(Array.from(await scatterAdd(zeros([3]), 0, int([0, 2, 0]), tensor([1, 2, 3])).toArray()), [4, 0, 2]);
  assert.throws(() => scatterAdd(zeros([3]), 0, tensor([0, 1]), tensor([1, 2])), /scatterAdd: index tensors must be int32, got float32/);
  assert.throws(() => scatterAdd(zeros([3]), 0, int([0, 1]), tensor([1, 2, 3])), /scatterAdd: index \[2\] must have src's shape \[3\]/);
});

test('embedding: any index shape, repeated rows accumulate gradient; nn.Embedding', async () => {
  const weight = randnSeeded([7, 3], 3);
  const idx = int([
    [6, 0, 6],
    [2, 2, 6],
  ]);
  const out = embedding(idx, weight);
  assert.equal(out.shape, [2, 3, 3]);
  const w = Array.from(await weight.toArray());
  const want = [6, 0, 6, 2, 2, 6].flatMap((r) => w.slice(3 * r, 3 * r + 3));
  assert.equal(Array.from(await out.toArray()), want.map(Math.fround));
  await checkForward((a) => embedding(idx, a), [weight], 1e-6, 'embedding');
  await checkGrad((a) => embedding(idx, a).square(), [weight], {}, 'embedding');
  await checkGrad((a) => embedding([1, 5, 1], a), [randnSeeded([6, 2], 4).T.contiguous().T], {}, 'embedding of host indices');
  assert.throws(() => embedding([7], weight), /embedding: index 7 at position 0 is out of range; valid indices are integers in 0\.\.6/);
  assert.throws(() => embedding(tensor([1]), weight), /embedding: index tensors must be int32, got float32/);
  manualSeed(0);
  const emb = new nn.Embedding(10, 4);
  assert.equal(emb.weight.shape, [10, 4]);
  assert.ok(emb.weight.requiresGrad);
  assert.equal(emb.forward(int([[0, 9]])).shape, [1, 2, 4]);
  assert.is(emb.toString(), 'Embedding(10, 4)');
  assert.throws(() => new nn.Embedding(0, 4), /nn.Embedding: numEmbeddings must be a positive integer, got 0/);
});

test('oneHot gives int32 rows; numClasses is required', async () => {
  const h = oneHot(
    int([
      [0, 2],
      [1, 1],
    ]),
    3,
  );
  assert.is(h.dtype, 'int32');
  assert.equal(h.shape, [2, 2, 3]);
  assert.equal(Array.from(await h.toArray<Int32Array>()), [1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0]);
  assert.equal(Array.from(await oneHot([2], 4).toArray<Int32Array>()), [0, 0, 1, 0]);
  assert.throws(() => oneHot([3], 3), /oneHot: index 3 at position 0 is out of range/);
  assert.throws(() => oneHot(int([0]), 0), /oneHot: numClasses must be a positive integer, got 0/);
});

test.run();
