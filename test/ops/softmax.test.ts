// softmax / logSoftmax: forward vs the float64 reference and gradients vs finite differences
// along every dim of a 3-D tensor with odd sizes, non-contiguous inputs, large logits, and
// values from PyTorch.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tensor, tensor, softmax, logSoftmax, sum } from '../../src/index.ts';
import { setup, checkForward, checkGrad, randnSeeded, nonContiguous, assertClose } from '../helpers.ts';

test.before(setup);

for (const [name, f] of [
  ['softmax', softmax],
  ['logSoftmax', logSoftmax],
] as const) {
  test(`${name}: forward and gradient along dims 0, 1, -1 of a [3, 5, 7] tensor`, async () => {
    for (const dim of [0, 1, -1]) {
      const x = randnSeeded([3, 5, 7], 11 + dim).mul(3);
      await checkForward((a) => f(a, dim), [x], 1e-5, `${name} dim ${dim}`);
      await checkGrad((a) => f(a, dim), [x], {}, `${name} dim ${dim}`);
    }
  });

  test(`${name}: non-contiguous input and a weighted downstream use`, async () => {
    const x = nonContiguous([6, 5], 4); // a transposed view
    await checkForward((a) => f(a, 1), [x], 1e-5, `${name} transposed`);
    await checkGrad((a) => f(a, 0).mul(a), [x], {}, `${name} transposed`);
    // An expanded (stride-0) upstream gradient: sum over the softmax dim's complement.
    await checkGrad((a) => sum(f(a, 1).mul(a), 0), [randnSeeded([4, 9], 5)], {}, `${name} expanded grad`);
  });
}

test('softmax / logSoftmax stay finite and exact for logits around 1000', async () => {
  const x = tensor([1000, 999, 998, 1000, -1000, 0, 1000.5, 1000], [2, 4]);
  const p = await softmax(x, 1).toArray();
  const lp = await logSoftmax(x, 1).toArray();
  const rows = [
    [1000, 999, 998, 1000],
    [-1000, 0, 1000.5, 1000],
  ];
  const want: number[] = [];
  const wantLog: number[] = [];
  for (const r of rows) {
    const m = Math.max(...r);
    const lse = m + Math.log(r.reduce((s, v) => s + Math.exp(v - m), 0));
    for (const v of r) {
      want.push(Math.exp(v - lse));
      wantLog.push(v - lse);
    }
  }
  assert.ok([...p, ...lp].every(Number.isFinite), `non-finite values: ${p} ${lp}`);
  assertClose(p, want, 1e-6, 'softmax(1000s)');
  assertClose(lp, wantLog, 1e-6, 'logSoftmax(1000s)');
  assert.ok(Math.abs(lp[4] - wantLog[4]) < 1e-3, `logSoftmax(-1000 among 1000s) = ${lp[4]}, want ${wantLog[4]}`);
  await checkForward((a) => logSoftmax(a, 1), [x], 1e-6, 'logSoftmax(1000s)');
});

test('softmax matches PyTorch on a small tensor, and rows sum to 1', async () => {
  // /usr/bin/python3 -c "import torch; x = torch.tensor([[0.5,-1.,2.,0.],[3.,3.,-2.,1.]]);
  //   print(torch.softmax(x, 1).flatten().tolist()); print(torch.log_softmax(x, 0).flatten().tolist())"
  const x = tensor([
    [0.5, -1, 2, 0],
    [3, 3, -2, 1],
  ]);
  assertClose(
    await softmax(x, 1).toArray(),
    [
      0.15844470262527466, 0.03535379096865654, 0.7100998759269714, 0.09610156714916229, 0.46683746576309204, 0.46683746576309204,
      0.0031455261632800102, 0.06317958235740662,
    ],
    1e-6,
    'softmax dim 1',
  );
  assertClose(
    await logSoftmax(x, 0).toArray(),
    [
      -2.578889846801758, -4.0181498527526855, -0.018149960786104202, -1.31326162815094, -0.07888974994421005, -0.018149960786104202,
      -4.0181498527526855, -0.31326165795326233,
    ],
    1e-6,
    'logSoftmax dim 0',
  );
  const rowSums = await sum(softmax(randnSeeded([4, 13, 3], 2), 1), 1).toArray();
  assertClose(rowSums, new Array(12).fill(1), 1e-6, 'softmax sums');
});

test('−inf entries (masks) give 0 / −inf, also when a row starts with −inf, as PyTorch', async () => {
  // torch.softmax(torch.tensor([[-inf,1,2,-inf],[0,-inf,-inf,3]]), 1) → [[0,.2689,.7311,0],[.0474,0,0,.9526]]
  const x = tensor([-Infinity, 1, 2, -Infinity, 0, -Infinity, -Infinity, 3], [2, 4]);
  const e1 = Math.exp(1) + Math.exp(2);
  const e2 = 1 + Math.exp(3);
  assertClose(
    await softmax(x, 1).toArray(),
    [0, Math.exp(1) / e1, Math.exp(2) / e1, 0, 1 / e2, 0, 0, Math.exp(3) / e2],
    1e-6,
    'masked softmax',
  );
  const lp = await logSoftmax(x, 1).toArray();
  assert.equal([lp[0], lp[3], lp[5], lp[6]], [-Infinity, -Infinity, -Infinity, -Infinity]);
  assertClose(
    [lp[1], lp[2], lp[4], lp[7]],
    [1 - Math.log(e1), 2 - Math.log(e1), -Math.log(e2), 3 - Math.log(e2)],
    1e-6,
    'masked logSoftmax',
  );
});

test('softmax of a scalar and of a length-1 dim is 1; logSoftmax 0', async () => {
  assert.equal([...(await softmax(tensor(3.5), 0).toArray())], [1]);
  assert.equal([...(await logSoftmax(tensor([[2], [7]]), 1).toArray())], [0, 0]);
  const t: Tensor = randnSeeded([2, 3]);
  assert.throws(() => softmax(t, 2), /dim 2 is out of range/);
});

test.run();
