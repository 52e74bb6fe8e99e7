// The smallest end-to-end wgrad program: a 2-layer MLP learns a noisy nonlinear function of
// its input on synthetic data. Prints the adapter and the loss falling.
//
//   npm run demo

import { init, deviceInfo, randn, manualSeed, tidy, keep, noGrad, stats, shutdown, Tensor } from '../src/index.ts';
import { mapInto } from '../src/ops/map.ts';

await init();
console.log(`adapter: ${deviceInfo().backend}`);
manualSeed(0);

const [N, D, H] = [512, 16, 64];
const x = keep(randn([N, D]));
// target: y = sin(x·u) + 0.1·noise
const u = randn([D, 1], { std: 0.5 });
const y = keep(
  tidy(() =>
    x
      .matmul(u)
      .mul(2)
      .tanh()
      .add(randn([N, 1], { std: 0.05 })),
  ),
);

const param = (shape: number[], std: number) => keep(randn(shape, { std, requiresGrad: true }));
const params = [param([D, H], 1 / Math.sqrt(D)), param([1, H], 0), param([H, 1], 1 / Math.sqrt(H)), param([1, 1], 0)];
const [w1, b1, w2, b2] = params;
const lr = 0.1;

function sgdStep(ps: Tensor[]): void {
  noGrad(() => {
    for (const p of ps) {
      if (p.grad) mapInto(p, [p, p.grad], 'x0 - p.a * x1', 'sgd', lr);
      p.zeroGrad();
    }
  });
}

let first = 0;
for (let step = 0; step <= 400; step++) {
  const loss = tidy(() => {
    const h = x.matmul(w1).add(b1).relu();
    const pred = h.matmul(w2).add(b2);
    const l = pred.sub(y).square().mean();
    l.backward();
    sgdStep(params);
    return l;
  });
  if (step % 50 === 0) {
    const v = await loss.item();
    if (step === 0) first = v;
    console.log(`step ${String(step).padStart(3)}  loss ${v.toFixed(5)}`);
  }
  loss.dispose();
}
const s = stats();
console.log(
  `loss fell from ${first.toFixed(4)}; ${s.dispatches} dispatches in ${s.submits} submits, ${s.pipelinesCompiled} pipelines, ${s.buffersCreated} buffers created / ${s.buffersReused} reused`,
);
shutdown();
