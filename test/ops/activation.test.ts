// The activations with constants (gelu, silu, leakyRelu, elu, softplus, clamp): GPU forward vs
// the float64 reference (relative error < 1e-5) and gradients vs finite differences on every
// layout, PyTorch's values at a few points, and PyTorch's behaviour at the kinks.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { skip } from '../skip.ts';
import { Tensor, tensor, nn, gelu, silu, leakyRelu, elu, softplus, clamp } from '../../src/index.ts';
import { setup, checkForward, checkGrad, assertClose, throwsWith } from '../helpers.ts';
import { make, type Layout } from './values.ts';
import { findPythonWithTorch, runPython } from '../io/python.ts';

test.before(setup);

const CASES: { shape: number[]; layout: Layout }[] = [
  { shape: [], layout: 'contiguous' },
  { shape: [7], layout: 'contiguous' },
  { shape: [3, 5], layout: 'transposed' },
  { shape: [2, 3, 1, 4], layout: 'contiguous' }, // vec4 path
  { shape: [5, 6], layout: 'sliced' },
  { shape: [4, 3], layout: 'expanded' },
];

const ACTIVATIONS: [string, (x: Tensor) => Tensor][] = [
  ['gelu', (x) => gelu(x)],
  ['gelu tanh', (x) => gelu(x, { approximate: 'tanh' })],
  ['silu', (x) => silu(x)],
  ['leakyRelu', (x) => leakyRelu(x)],
  ['leakyRelu 0.2', (x) => leakyRelu(x, 0.2)],
  ['elu', (x) => elu(x)],
  ['elu 0.5', (x) => elu(x, 0.5)],
  ['softplus', (x) => softplus(x)],
  ['softplus beta 2 threshold 1', (x) => softplus(x, 2, 1)],
  ['clamp', (x) => clamp(x, -0.5, 0.7)],
  ['clamp min only', (x) => clamp(x, -0.5)],
  ['clamp max only', (x) => x.clamp(null, 0.7)],
];

for (const [name, f] of ACTIVATIONS) {
  test(`${name}: forward and gradient on every layout`, async () => {
    let seed = 40;
    for (const c of CASES) {
      // 'normal' ×2 covers both tails; kinks (0 for leakyRelu/elu, the clamp bounds) are hit with probability 0.
      const x = make(c.shape, { seed: seed++, layout: c.layout, scale: 2 });
      const what = `${name} ${c.layout} [${c.shape}]`;
      await checkForward(f, [x], 1e-5, what);
      await checkGrad(f, [x], {}, what);
    }
  });
}

test('gelu keeps relative accuracy far in the left tail (erfc, not 1 + erf)', async () => {
  await checkForward((x) => gelu(x), [tensor([-9, -7, -5, -3, -1e-3, 0, 1e-3, 3, 9])], 1e-5, 'gelu tails');
  const y = await gelu(tensor([-5])).toArray();
  const want = -5 * 0.5 * 5.733031438470704e-7; // x/2 · erfc(5/√2)
  assert.ok(Math.abs(y[0] - want) < 1e-6 * Math.abs(want), `gelu(-5) = ${y[0]}, want ${want}`);
});

test('softplus switches to x above the threshold without overflow; clamp passes gradient at the bounds', async () => {
  assertClose(await softplus(tensor([100, -100, 0])).toArray(), [100, 0, Math.LN2], 1e-6, 'softplus');
  const x = tensor([-1, 0, 0.5, 1, 2], undefined, { requiresGrad: true });
  x.clamp(0, 1).sum().backward();
  assert.equal(Array.from(await x.grad!.toArray()), [0, 1, 1, 1, 0]); // torch: bounds included
  throwsWith(() => clamp(x), 'clamp', 'min and max');
  throwsWith(() => gelu(x, { approximate: 'erf' as 'tanh' }), 'gelu', "'none' or 'tanh'");
  throwsWith(() => softplus(x, 0), 'softplus', 'beta');
});

test('values and gradients agree with PyTorch', async () => {
  const py = findPythonWithTorch();
  if (!py) {
    return skip('no python3 with torch (bash scripts/setup.sh --with-python installs python3-torch)');
  }
  const xs = [-4, -1.3, -0.2, 0.1, 0.9, 2.5, 25];
  const script = `
import json, torch
import torch.nn.functional as F
x = torch.tensor(${JSON.stringify(xs)}, dtype=torch.float64, requires_grad=True)
fs = [lambda x: F.gelu(x), lambda x: F.gelu(x, approximate='tanh'), F.silu, lambda x: F.leaky_relu(x, 0.2),
      lambda x: F.elu(x, 0.5), lambda x: F.softplus(x, 2, 1), lambda x: torch.clamp(x, -0.2, 0.9)]
out = []
for f in fs:
    y = f(x); g, = torch.autograd.grad(y.sum(), x)
    out.append([y.tolist(), g.tolist()])
print(json.dumps(out))`;
  const want = JSON.parse(runPython(py, script)) as [number[], number[]][];
  const ours: ((x: Tensor) => Tensor)[] = [
    (x) => gelu(x),
    (x) => gelu(x, { approximate: 'tanh' }),
    silu,
    (x) => leakyRelu(x, 0.2),
    (x) => elu(x, 0.5),
    (x) => softplus(x, 2, 1),
    (x) => clamp(x, -0.2, 0.9),
  ];
  for (const [i, f] of ours.entries()) {
    const x = tensor(xs, undefined, { requiresGrad: true });
    const y = f(x);
    assertClose(await y.toArray(), want[i][0], 1e-6, `function ${i} value`);
    y.sum().backward();
    assertClose(await x.grad!.toArray(), want[i][1], 1e-6, `function ${i} gradient`);
  }
});

test('activation modules: same values as the functions, printed as PyTorch prints them', async () => {
  const layers = new nn.Sequential(
    new nn.GELU(),
    new nn.GELU('tanh'),
    new nn.SiLU(),
    new nn.LeakyReLU(0.2),
    new nn.ELU(),
    new nn.Softplus(2, 10),
  );
  // print(nn.Sequential(nn.GELU(), nn.GELU('tanh'), nn.SiLU(), nn.LeakyReLU(0.2), nn.ELU(), nn.Softplus(2, 10)))
  assert.is(
    String(layers),
    `Sequential(
  (0): GELU(approximate='none')
  (1): GELU(approximate='tanh')
  (2): SiLU()
  (3): LeakyReLU(negative_slope=0.2)
  (4): ELU(alpha=1.0)
  (5): Softplus(beta=2, threshold=10)
)`,
  );
  const x = make([3, 4], { seed: 5, scale: 2 });
  const want = softplus(elu(leakyRelu(silu(gelu(gelu(x), { approximate: 'tanh' })), 0.2)), 2, 10);
  assertClose(await layers.forward(x).toArray(), await want.toArray(), 0, 'Sequential of activations');
  assert.equal(layers.parameters().length, 0);
});

test.run();
