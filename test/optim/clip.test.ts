// clipGradNorm: the global L2 norm over all gradients (float64 reference), scaling by
// maxNorm / (norm + 1e-6) only when above, no readback, and torch's result on the same gradients.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { keep, tensor, tidy, stats, optim } from '../../src/index.ts';
import { Generator } from '../../src/random.ts';
import { setup, assertClose } from '../helpers.ts';

test.before(setup);

function params(seed: number, shapes: number[][], scale: number) {
  const g = new Generator(seed);
  return shapes.map((s) => {
    const n = s.reduce((a, b) => a * b, 1);
    const grad = Float32Array.from({ length: n }, () => scale * g.normal());
    const p = keep(tensor(new Float32Array(n), s, { requiresGrad: true }));
    p.grad = keep(tensor(grad, s));
    return { p, grad };
  });
}

const norm64 = (grads: Float32Array[]) => Math.sqrt(grads.reduce((s, g) => s + g.reduce((a, v) => a + v * v, 0), 0));

test('clips to maxNorm when the global norm is larger, returning the norm before clipping', async () => {
  // 3·4 + 5 + 20000 elements: the large one takes the split reduction path.
  const ps = params(1, [[3, 4], [5], [100, 200]], 0.5);
  const want = norm64(ps.map((x) => x.grad));
  const before = stats().readbacks;
  const norm = tidy(() =>
    optim.clipGradNorm(
      ps.map((x) => x.p),
      1.0,
    ),
  );
  assert.is(stats().readbacks, before, 'clipGradNorm itself reads nothing back');
  const got = await norm.item();
  assert.ok(Math.abs(got - want) <= 1e-5 * want, `norm ${got} vs ${want}`);
  const coef = 1.0 / (want + 1e-6);
  for (const { p, grad } of ps)
    assertClose(
      await p.grad!.toArray(),
      Float64Array.from(grad, (v) => v * coef),
      1e-5,
      'clipped gradient',
    );
  const after = norm64(await Promise.all(ps.map((x) => x.p.grad!.toArray())));
  assert.ok(Math.abs(after - 1) < 1e-5, `norm after clipping ${after}`);
  norm.dispose();
  for (const { p } of ps) {
    p.zeroGrad();
    p.dispose();
  }
});

test('leaves gradients unchanged below maxNorm and skips parameters without gradient', async () => {
  const ps = params(2, [[7], [2, 3]], 0.1);
  const extra = keep(tensor([1, 2], [2], { requiresGrad: true }));
  const want = norm64(ps.map((x) => x.grad));
  const norm = optim.clipGradNorm([...ps.map((x) => x.p), extra], 10);
  assert.ok(Math.abs((await norm.item()) - want) <= 1e-6 * want, 'norm');
  for (const { p, grad } of ps) assert.equal(await p.grad!.toArray(), grad, 'unchanged');
  assert.is(extra.grad, null);
  assert.is(await optim.clipGradNorm([extra], 1).item(), 0, 'no gradients: norm 0');
  for (const t of [...ps.map((x) => x.p), extra]) {
    t.zeroGrad();
    t.dispose();
  }
});

test('matches torch.nn.utils.clip_grad_norm_ on fixed gradients', async () => {
  // torch 1.13:
  //   g1 = torch.tensor([[3., -4.], [1., 2.]]); g2 = torch.tensor([12., 0.5, -2.])
  //   p1.grad, p2.grad = g1, g2; n = clip_grad_norm_([p1, p2], 5.0)
  //   n -> 13.35103035 ; p1.grad -> [[1.12350869, -1.49801159], [0.37450290, 0.74900579]]
  //   p2.grad -> [4.49403477, 0.18725145, -0.74900579]  (coef 5 / (n + 1e-6) = 0.37450290)
  const a = keep(
    tensor(
      [
        [0, 0],
        [0, 0],
      ],
      undefined,
      { requiresGrad: true },
    ),
  );
  const b = keep(tensor([0, 0, 0], undefined, { requiresGrad: true }));
  a.grad = keep(
    tensor([
      [3, -4],
      [1, 2],
    ]),
  );
  b.grad = keep(tensor([12, 0.5, -2]));
  const n = optim.clipGradNorm([a, b], 5);
  assert.ok(Math.abs((await n.item()) - 13.35103035) < 1e-5);
  assertClose(await a.grad!.toArray(), [1.12350869, -1.49801159, 0.3745029, 0.74900579], 1e-6, 'p1.grad');
  assertClose(await b.grad!.toArray(), [4.49403477, 0.18725145, -0.74900579], 1e-6, 'p2.grad');
  for (const t of [a, b]) {
    t.zeroGrad();
    t.dispose();
  }
});

test.run();
