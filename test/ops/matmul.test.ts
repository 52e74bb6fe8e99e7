// matmul (torch.matmul semantics): 2-D, 1-D operands on either side, batched with broadcast
// batch dims, transposed / sliced / expanded operands read in place, sizes that straddle the
// kernel's 32×32 output tiles. Forward vs the float64 reference, gradients vs finite differences.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tensor, tensor, matmul, zeros } from '../../src/index.ts';
import { setup, checkForward, checkGrad } from '../helpers.ts';
import { make } from './values.ts';

test.before(setup);

const mm = (a: Tensor, b: Tensor) => a.matmul(b);

async function checkBoth(a: Tensor, b: Tensor, what: string, grad = true): Promise<void> {
  await checkForward(mm, [a, b], 1e-5, what);
  if (grad) await checkGrad(mm, [a, b], {}, what);
}

test('2-D: odd sizes, size-1 dims, tile edges', async () => {
  const cases: [number, number, number][] = [[3, 5, 4], [1, 1, 1], [7, 13, 9], [1, 6, 5], [6, 5, 1], [5, 1, 6], [33, 5, 4], [4, 5, 33]];
  let seed = 1;
  for (const [m, k, n] of cases) {
    await checkBoth(make([m, k], { seed: seed++ }), make([k, n], { seed: seed++ }), `[${m},${k}]@[${k},${n}]`);
  }
  // Larger, several tiles in each direction: forward only (finite differences would be slow).
  await checkBoth(make([70, 37], { seed: 90 }), make([37, 65], { seed: 91 }), '[70,37]@[37,65]', false);
});

test('closed form on a small example', async () => {
  const a = tensor([[1, 2, 3], [4, 5, 6]]);
  const b = tensor([[7, 8], [9, 10], [11, 12]]);
  assert.equal(Array.from(await a.matmul(b).toArray()), [58, 64, 139, 154]);
  assert.equal(Array.from(await matmul(b, a).toArray()), [39, 54, 69, 49, 68, 87, 59, 82, 105]);
});

test('1-D operands: vector·matrix, matrix·vector, dot, batched', async () => {
  const cases: [number[], number[], number[]][] = [
    [[5], [5, 3], [3]],
    [[4, 5], [5], [4]],
    [[5], [5], []],
    [[2, 4, 5], [5], [2, 4]],
    [[5], [2, 5, 3], [2, 3]],
    [[1], [1, 4], [4]],
  ];
  let seed = 10;
  for (const [sa, sb, so] of cases) {
    const a = make(sa, { seed: seed++ });
    const b = make(sb, { seed: seed++ });
    assert.equal(a.matmul(b).shape, so, `shape of [${sa}]@[${sb}]`);
    await checkBoth(a, b, `[${sa}]@[${sb}]`);
  }
  assert.is(await tensor([1, 2, 3]).matmul(tensor([4, 5, 6])).item(), 32);
});

test('batched with broadcasting over batch dims (rank 3 to 5)', async () => {
  const cases: [number[], number[]][] = [
    [[2, 3, 4], [4, 5]],
    [[3, 4], [2, 4, 5]],
    [[2, 3, 4], [2, 4, 5]],
    [[2, 1, 3, 4], [5, 4, 2]], // batch [2,1] vs [5] → [2,5]
    [[1, 3, 2, 4], [2, 1, 4, 3]], // both broadcast
    [[2, 1, 2, 3, 4], [1, 3, 1, 4, 2]], // rank 5, batch [2,3,2]
  ];
  let seed = 30;
  for (const [sa, sb] of cases) {
    await checkBoth(make(sa, { seed: seed++ }), make(sb, { seed: seed++ }), `[${sa}]@[${sb}]`);
  }
});

test('transposed, sliced and expanded operands are read in place', async () => {
  let seed = 50;
  const A = (s: number[], layout: 'contiguous' | 'transposed' | 'sliced' | 'expanded') => make(s, { seed: seed++, layout });
  await checkBoth(A([4, 6], 'transposed'), A([6, 5], 'contiguous'), 'aᵀ-stored @ b');
  await checkBoth(A([4, 6], 'contiguous'), A([6, 5], 'transposed'), 'a @ bᵀ-stored');
  await checkBoth(A([4, 6], 'transposed'), A([6, 5], 'transposed'), 'both transposed');
  await checkBoth(A([3, 4, 6], 'transposed'), A([3, 6, 2], 'transposed'), 'batched, both transposed');
  await checkBoth(A([4, 6], 'sliced'), A([6, 3], 'sliced'), 'strided k / n');
  await checkBoth(A([3, 2, 5], 'expanded'), A([3, 5, 4], 'contiguous'), 'batch-expanded a (stride 0)');
  await checkBoth(A([2, 5], 'contiguous'), A([3, 5, 2], 'expanded'), 'batch-expanded b, broadcast a');
  // Operand transposes inside the graph (as in x @ Wᵀ) and a permuted batch.
  const f = (x: Tensor, w: Tensor) => x.matmul(w.T).relu().matmul(w);
  await checkForward(f, [make([4, 6], { seed: 70 }), make([5, 6], { seed: 71 })]);
  await checkGrad(f, [make([4, 6], { seed: 70 }), make([5, 6], { seed: 71 })]);
  const g = (x: Tensor, y: Tensor) => x.permute(1, 0, 2).matmul(y.permute(2, 1, 0));
  await checkForward(g, [make([3, 2, 4], { seed: 72 }), make([5, 4, 2], { seed: 73 })]);
  await checkGrad(g, [make([3, 2, 4], { seed: 72 }), make([5, 4, 2], { seed: 73 })]);
});

test('gradient shapes equal operand shapes (broadcast batch dims summed)', async () => {
  const a = make([2, 1, 3, 4], { seed: 80 }).requiresGrad_();
  const b = make([5, 4, 2], { seed: 81 }).requiresGrad_();
  const v = make([4], { seed: 82 }).requiresGrad_();
  a.matmul(b).sum().backward();
  a.matmul(v).sum().backward();
  assert.equal(a.grad!.shape, [2, 1, 3, 4]);
  assert.equal(b.grad!.shape, [5, 4, 2]);
  assert.equal(v.grad!.shape, [4]);
});

test('empty inner dimension gives zeros', async () => {
  const out = zeros([3, 0]).matmul(zeros([0, 4]));
  assert.equal(out.shape, [3, 4]);
  assert.equal(Array.from(await out.toArray()), new Array(12).fill(0));
});

test.run();
