// linear and dropout: forward vs the float64 reference, gradients vs finite differences, torch
// values; dropout's seeded masks, drop fraction, scaling and eval identity.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tensor, linear, dropout, Generator, manualSeed, sync, nn, deviceInfo, type Tensor } from '../../src/index.ts';
import { matmulPlan, setMatmulKernel } from '../../src/ops/matmul.ts';
import { setup, checkForward, checkGrad, randnSeeded, nonContiguous, assertClose, checkFusedModel, withDispatches } from '../helpers.ts';

test.before(setup);

test('linear: forward and gradients for 2-D, 3-D and 1-D inputs, with and without bias', async () => {
  const w = randnSeeded([5, 7], 60);
  const b = randnSeeded([5], 61);
  for (const shape of [[3, 7], [2, 3, 7], [7]]) {
    const x = randnSeeded(shape, 62);
    await checkForward((xx, ww, bb) => linear(xx, ww, bb), [x, w, b], 1e-5, `linear ${shape}`);
    await checkGrad((xx, ww, bb) => linear(xx, ww, bb), [x, w, b], {}, `linear ${shape}`);
    await checkGrad((xx, ww) => linear(xx, ww), [x, w], {}, `linear no bias ${shape}`);
  }
  // Non-contiguous input and weight (transposed views).
  await checkGrad((xx, ww, bb) => linear(xx, ww, bb), [nonContiguous([4, 7], 63), nonContiguous([5, 7], 64), b], {}, 'linear strided');
});

test('linear matches PyTorch values; shape errors name both shapes', async () => {
  // torch.nn.functional.linear(torch.tensor([[1.,2.,3.],[-1.,0.5,2.]]), torch.tensor([[0.5,-1.,2.],[1.,1.,1.]]), torch.tensor([0.25,-2.]))
  //   → [[4.75, 4.0], [3.25, -0.5]]
  const y = linear(
    tensor([
      [1, 2, 3],
      [-1, 0.5, 2],
    ]),
    tensor([
      [0.5, -1, 2],
      [1, 1, 1],
    ]),
    tensor([0.25, -2]),
  );
  assert.equal(y.shape, [2, 2]);
  assertClose(await y.toArray(), [4.75, 4, 3.25, -0.5], 1e-7, 'linear');
  assert.throws(() => linear(randnSeeded([2, 3]), randnSeeded([4, 5])), /linear: input \[2, 3\] and weight \[4, 5\]/);
  assert.throws(() => linear(randnSeeded([2, 3]), randnSeeded([4, 3]), randnSeeded([3])), /bias \[3\] must have shape \[4\]/);
});

test('linear: one dispatch forward, bias (and ReLU) in the matmul epilogue; a bias view gets its own pass', async () => {
  const x = randnSeeded([8, 6]);
  const w = randnSeeded([4, 6]);
  const b = randnSeeded([4]);
  const count = async (f: () => unknown) => {
    await sync();
    return withDispatches(f)[1];
  };
  assert.is(await count(() => linear(x, w, b)), 1);
  assert.is(await count(() => linear(x, w, b, { activation: 'relu' })), 1);
  const bView = randnSeeded([6], 5).slice(0, 2, 6); // offset 2: not indexable by the epilogue
  assert.is(await count(() => linear(x, w, bView, { activation: 'relu' })), 2);
  await checkForward((xx, ww, bb) => linear(xx, ww, bb, { activation: 'relu' }), [x, w, bView], 1e-5, 'linear relu, bias view');
  assert.throws(() => linear(x, w, b, { activation: 'gelu' as 'relu' }), /unknown activation 'gelu'/);
});

test('linear + ReLU fused: forward and gradients vs float64 on every matmul kernel, vec4 swapped included', async () => {
  const relu = (xx: Tensor, ww: Tensor, bb?: Tensor) => linear(xx, ww, bb, { activation: 'relu' });
  try {
    for (const kernel of ['generic', 'vec4', 'tiled'] as const) {
      setMatmulKernel(kernel);
      // [40, 8]·[8, 3]ᵀ: N small, so vec4 computes Cᵀ and indexes the bias by its rows.
      for (const [rows, inF, outF] of [
        [6, 8, 5],
        [40, 8, 3],
        [3, 12, 70],
      ]) {
        const x = randnSeeded([rows, inF], rows);
        const w = randnSeeded([outF, inF], outF);
        const b = randnSeeded([outF], 7);
        if (kernel === 'vec4' && outF === 3 && deviceInfo().features.includes('subgroups'))
          assert.match(matmulPlan(x, w.T).detail, /swapped/);
        await checkForward(relu, [x, w, b], 1e-5, `${kernel} [${rows},${inF}]→${outF}`);
        await checkGrad(relu, [x, w, b], {}, `${kernel} [${rows},${inF}]→${outF}`);
        await checkGrad((xx, ww) => relu(xx, ww), [x, w], {}, `${kernel} no bias`);
      }
    }
  } finally {
    setMatmulKernel(null);
  }
});

test('nn.Sequential runs Linear → ReLU fused: same values and gradients as the two ops, fewer dispatches', async () => {
  manualSeed(3);
  const model = new nn.Sequential(new nn.Linear(12, 16), new nn.ReLU(), new nn.Linear(16, 4));
  const x = randnSeeded([10, 12], 9);
  const [l0, l2] = [model.at(0) as nn.Linear, model.at(2) as nn.Linear];
  await checkFusedModel(model, x, () => linear(linear(x, l0.weight, l0.bias).relu(), l2.weight, l2.bias));
  assert.equal(Object.keys(model.stateDict()), ['0.weight', '0.bias', '2.weight', '2.bias']);
});

/**
 * Equidistributed uniforms (the Weyl sequence frac(i·φ)) for the drop-fraction check, so the check
 * measures dropout's thresholding exactly, without the sampling noise of random draws (the
 * generator itself is checked for uniformity in test/random.test.ts).
 */
class WeylGenerator extends Generator {
  private i = 0;
  override uniform(): number {
    this.i++;
    return (this.i * 0.6180339887498949) % 1;
  }
}

test('dropout: same seed gives the same mask, drawn as uniform() >= p; fraction ≈ p; kept values scaled by 1/(1 − p)', async () => {
  const x = tensor(new Float32Array(20000).fill(1.5), [100, 200]);
  const p = 0.3;
  const a = await dropout(x, p, { generator: new Generator(7) }).toArray();
  const b = await dropout(x, p, { generator: new Generator(7) }).toArray();
  const c = await dropout(x, p, { generator: new Generator(8) }).toArray();
  assert.equal(a, b, 'same seed, same mask');
  assert.not.equal(a, c, 'another seed, another mask');
  const g = new Generator(7);
  assert.ok(
    a.every((v) => (v === 0) === g.uniform() < p),
    'element i is dropped iff the i-th uniform() < p',
  );
  assert.ok(
    a.every((v) => v === 0 || Math.abs(v - 1.5 / 0.7) < 1e-6),
    'kept values are x / (1 − p)',
  );
  for (const q of [0.1, 0.3, 0.75]) {
    const zeros = (await dropout(x, q, { generator: new WeylGenerator() }).toArray()).filter((v) => v === 0).length;
    assert.ok(Math.abs(zeros / 20000 - q) < 0.002, `p = ${q}: ${zeros} zeros of 20000`);
  }
  manualSeed(3);
  const d = await dropout(x, p).toArray();
  manualSeed(3);
  assert.equal(await dropout(x, p).toArray(), d, 'manualSeed makes the default generator repeatable');
});

test('dropout: identity in eval mode and for p = 0; p = 1 gives zeros; forward and gradient vs the reference', async () => {
  const x = randnSeeded([6, 7], 70);
  assert.is(dropout(x, 0.5, { training: false }), x);
  assert.is(dropout(x, 0), x);
  assert.ok((await dropout(x, 1).toArray()).every((v) => v === 0));
  assert.throws(() => dropout(x, 1.5), /dropout: p must be in \[0, 1\]/);
  const g = new Generator(5);
  await checkForward((xx) => dropout(xx, 0.4, { generator: g }), [x], 1e-6, 'dropout');
  await checkGrad((xx) => dropout(xx, 0.4, { generator: g }).mul(xx), [x], {}, 'dropout');
  // Gradient = mask / (1 − p): zero exactly where the output is zero.
  const leaf = x.detach().requiresGrad_();
  const y = dropout(leaf, 0.5, { generator: new Generator(9) });
  y.sum().backward();
  const [yv, gv, xv] = [await y.toArray(), await leaf.grad!.toArray(), await x.toArray()];
  for (let i = 0; i < yv.length; i++) {
    assert.is(gv[i], yv[i] === 0 ? 0 : 2);
    if (yv[i] !== 0) assert.ok(Math.abs(yv[i] - 2 * xv[i]) < 1e-6);
  }
});

test.run();
