// mseLoss, l1Loss, smoothL1Loss, binaryCrossEntropyWithLogits, klDiv: forward vs the float64
// replay and vs a closed form written here in float64, gradients vs finite differences (rank 0,
// odd shapes, non-contiguous views, every reduction), and values and gradients vs PyTorch.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { skip } from '../skip.ts';
import {
  Tensor,
  tensor,
  mseLoss,
  l1Loss,
  smoothL1Loss,
  binaryCrossEntropyWithLogits,
  klDiv,
  logSoftmax,
  softmax,
} from '../../src/index.ts';
import { setup, checkForward, checkGrad, assertClose, throwsWith } from '../helpers.ts';
import { make, type Layout } from './values.ts';
import { findPythonWithTorch, runPython } from '../io/python.ts';

test.before(setup);

type Red = 'mean' | 'sum' | 'none';
// Each loss: GPU function, the float64 pointwise formula of (x, t), and the target domain.
const LOSSES: [string, (x: Tensor, t: Tensor, reduction: Red) => Tensor, (x: number, t: number) => number, 'normal' | 'prob'][] = [
  ['mseLoss', (x, t, reduction) => mseLoss(x, t, { reduction }), (x, t) => (x - t) ** 2, 'normal'],
  ['l1Loss', (x, t, reduction) => l1Loss(x, t, { reduction }), (x, t) => Math.abs(x - t), 'normal'],
  [
    'smoothL1Loss',
    (x, t, reduction) => smoothL1Loss(x, t, { reduction }),
    (x, t) => (Math.abs(x - t) < 1 ? 0.5 * (x - t) ** 2 : Math.abs(x - t) - 0.5),
    'normal',
  ],
  [
    'smoothL1Loss beta 0.3',
    (x, t, reduction) => smoothL1Loss(x, t, { reduction, beta: 0.3 }),
    (x, t) => (Math.abs(x - t) < 0.3 ? (0.5 * (x - t) ** 2) / 0.3 : Math.abs(x - t) - 0.15),
    'normal',
  ],
  [
    'binaryCrossEntropyWithLogits',
    (x, t, reduction) => binaryCrossEntropyWithLogits(x, t, { reduction }),
    (x, t) => -(t * Math.log(1 / (1 + Math.exp(-x))) + (1 - t) * Math.log(1 - 1 / (1 + Math.exp(-x)))),
    'prob',
  ],
  ['klDiv', (x, t, reduction) => klDiv(x, t, { reduction }), (x, t) => (t > 0 ? t * (Math.log(t) - x) : 0), 'prob'],
];

const CASES: { shape: number[]; layout: Layout }[] = [
  { shape: [], layout: 'contiguous' },
  { shape: [5, 7], layout: 'contiguous' },
  { shape: [3, 4], layout: 'transposed' },
  { shape: [2, 3, 5], layout: 'sliced' },
];

for (const [name, f, pointwise, domain] of LOSSES) {
  test(`${name}: forward, closed form and gradient for every reduction and layout`, async () => {
    let seed = 60;
    for (const c of CASES) {
      const x = make(c.shape, { seed: seed++, layout: c.layout, scale: 1.5 });
      const raw = make(c.shape, { seed: seed++, layout: c.layout, domain: domain === 'prob' ? 'positive' : 'normal' });
      // Probabilities in [0, 1) with about a seventh exact zeros (klDiv's 0·log 0 = 0).
      const t = domain === 'prob' ? raw.sub(0.7).div(1.5).maximum(0) : raw;
      const [hx, ht] = [await x.toArray(), await t.toArray()];
      const each = Array.from(hx, (v, i) => pointwise(v, ht[i]));
      const total = each.reduce((a, b) => a + b, 0);
      for (const reduction of ['mean', 'sum', 'none'] as Red[]) {
        const what = `${name} ${reduction} ${c.layout} [${c.shape}]`;
        await checkForward((a, b) => f(a, b, reduction), [x, t], 1e-5, what);
        await checkGrad((a) => f(a, t, reduction), [x], {}, what);
        const want = reduction === 'none' ? each : [reduction === 'sum' ? total : total / Math.max(each.length, 1)];
        assertClose(await f(x, t, reduction).toArray(), want, 1e-5, `${what} closed form`);
      }
    }
  });
}

test('gradients reach the target too (mse, smooth L1, BCE with pos_weight and weight, klDiv logTarget)', async () => {
  const x = make([4, 3], { seed: 1, layout: 'transposed' });
  const t = make([4, 3], { seed: 2 });
  const p = make([4, 3], { seed: 3, domain: 'positive' }).div(2);
  const pw = make([3], { seed: 4, domain: 'positive' });
  const w = make([4, 1], { seed: 5, domain: 'positive' });
  await checkGrad((a, b) => mseLoss(a, b), [x, t]);
  await checkGrad((a, b) => smoothL1Loss(a, b, { beta: 0.5, reduction: 'sum' }), [x, t]);
  const bce = (a: Tensor, b: Tensor, c: Tensor, d: Tensor) => binaryCrossEntropyWithLogits(a, b, { posWeight: c, weight: d });
  await checkForward(bce, [x, p, pw, w]);
  await checkGrad(bce, [x, p, pw, w]);
  const kl = (a: Tensor, b: Tensor) => klDiv(logSoftmax(a, 1), logSoftmax(b, 1), { logTarget: true, reduction: 'batchmean' });
  await checkForward(kl, [x, t]);
  await checkGrad(kl, [x, t]);
});

test('errors name the loss, the shapes and the reductions allowed', () => {
  const x = tensor([1, 2, 3]);
  throwsWith(() => mseLoss(x, tensor([1, 2])), 'mseLoss', '[3]', '[2]', 'same shape');
  throwsWith(() => l1Loss(x, x, { reduction: 'batchmean' as Red }), 'l1Loss', "'mean', 'sum', 'none'");
  throwsWith(() => smoothL1Loss(x, x, { beta: -1 }), 'smoothL1Loss', 'beta');
});

test('values and gradients agree with PyTorch (every reduction, pos_weight, batchmean, log_target)', async () => {
  const py = findPythonWithTorch();
  if (!py) {
    return skip('no python3 with torch (bash scripts/setup.sh --with-python installs python3-torch)');
  }
  const x = make([3, 4], { seed: 7, scale: 2 });
  const t = make([3, 4], { seed: 8 });
  const pr = softmax(make([3, 4], { seed: 9 }), 1);
  const pw = make([4], { seed: 10, domain: 'positive' });
  const [hx, ht, hp, hpw] = await Promise.all([x, t, pr, pw].map(async (v) => Array.from(await v.toArray())));
  const script = `
import json, torch
import torch.nn.functional as F
x = torch.tensor(${JSON.stringify(hx)}, dtype=torch.float64).reshape(3, 4)
t = torch.tensor(${JSON.stringify(ht)}, dtype=torch.float64).reshape(3, 4)
p = torch.tensor(${JSON.stringify(hp)}, dtype=torch.float64).reshape(3, 4)
pw = torch.tensor(${JSON.stringify(hpw)}, dtype=torch.float64)
fs = []
for r in ['mean', 'sum', 'none']:
    fs += [lambda x, r=r: F.mse_loss(x, t, reduction=r), lambda x, r=r: F.l1_loss(x, t, reduction=r),
           lambda x, r=r: F.smooth_l1_loss(x, t, reduction=r, beta=0.7),
           lambda x, r=r: F.binary_cross_entropy_with_logits(x, p, reduction=r, pos_weight=pw),
           lambda x, r=r: F.kl_div(F.log_softmax(x, 1), p, reduction=r)]
fs += [lambda x: F.kl_div(F.log_softmax(x, 1), p, reduction='batchmean'),
       lambda x: F.kl_div(F.log_softmax(x, 1), p.log(), reduction='batchmean', log_target=True)]
out = []
for f in fs:
    xx = x.clone().requires_grad_()
    y = f(xx); y.sum().backward()
    out.append([y.flatten().tolist(), xx.grad.flatten().tolist()])
print(json.dumps(out))`;
  const want = JSON.parse(runPython(py, script)) as [number[], number[]][];
  const ours: ((x: Tensor) => Tensor)[] = [];
  for (const reduction of ['mean', 'sum', 'none'] as Red[]) {
    ours.push(
      (v) => mseLoss(v, t, { reduction }),
      (v) => l1Loss(v, t, { reduction }),
      (v) => smoothL1Loss(v, t, { reduction, beta: 0.7 }),
      (v) => binaryCrossEntropyWithLogits(v, pr, { reduction, posWeight: pw }),
      (v) => klDiv(logSoftmax(v, 1), pr, { reduction }),
    );
  }
  ours.push(
    (v) => klDiv(logSoftmax(v, 1), pr, { reduction: 'batchmean' }),
    (v) => klDiv(logSoftmax(v, 1), pr.log(), { reduction: 'batchmean', logTarget: true }),
  );
  assert.is(ours.length, want.length);
  for (const [i, f] of ours.entries()) {
    const leaf = x.detach().requiresGrad_();
    const y = f(leaf);
    assertClose(await y.toArray(), want[i][0], 1e-5, `loss ${i} value`);
    y.sum().backward();
    assertClose(await leaf.grad!.toArray(), want[i][1], 1e-5, `loss ${i} gradient`);
  }
});

test.run();
