// The discrete-GPU checks of one device lease (bench/gpu/run.sh runs this next to PyTorch):
//   1. fp32 matmul 1024–4096² for every variant of the discrete-GPU kernel (matmulTuning), each
//      first checked against a float64 product on an odd shape;
//   2. a MoCo training step with ResNet-18 (CIFAR form, width 64, 3×32×32, batch 256, K 4096,
//      MLP head, shuffle BN) on pre-made views: images/s, plus its per-kernel GPU profile;
//   3. the default Fashion-MNIST MoCo step (SmallConvNet width 16, batch 128) for scale;
//   4. conv2d forward / input gradient / weight gradient at ResNet-18's 3×3 layer shapes (batch
//      256) under tiling variants (convTuning), to choose the discrete-GPU defaults: on the H200
//      the weight gradient ran at half the forward's speed per FLOP with the default (4 × 2 tiles,
//      32768 threads); lavapipe preferred fewer input channels per thread.
// Writes one JSON object to argv[2] (or stdout). Usage: npx tsx bench/gpu/gpu.ts [out.json] [--quick]

import * as fs from 'node:fs';
import { init, deviceInfo, sync, profile, tidy, keep, manualSeed, rand, nn, optim, shutdown, MoCo } from '../../src/index.ts';
import { matmulPlan, setMatmulKernel } from '../../src/ops/matmul.ts';
import { matmulTuning, convTuning } from '../../src/ops/tuning.ts';
import { conv2d } from '../../src/ops/conv.ts';

const out = process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : '';
const quick = process.argv.includes('--quick');
await init();
const info = deviceInfo();
const moco: Record<string, unknown>[] = [];
const errors: string[] = [];
const matmul: Record<string, unknown>[] = [];
const conv: Record<string, unknown>[] = [];
const result = { adapter: info, date: new Date().toISOString(), matmul, moco, conv, errors };
const save = () => (out ? fs.writeFileSync(out, JSON.stringify(result, null, 1)) : undefined);
console.log(`adapter: ${info.vendor} ${info.architecture} ${info.description} (${info.family}, ${info.backend})`);

/** Median ms per call of `fn` over `samples` batches of `iters` calls, each batch finished by sync(). */
async function time(fn: () => void, iters: number, samples = 5): Promise<number> {
  fn();
  await sync();
  const ms: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) fn();
    await sync();
    ms.push((performance.now() - t0) / iters);
  }
  return ms.sort((a, b) => a - b)[samples >> 1];
}

// ---- 1. matmul --------------------------------------------------------------------------------
async function maxError(): Promise<number> {
  const [M, K, N] = [132, 300, 260]; // multiples of 4: every variant, db4 included, runs
  const a = rand([M, K]);
  const b = rand([K, N]);
  const [ah, bh, ch] = [await a.toArray(), await b.toArray(), await a.matmul(b).toArray()];
  let err = 0;
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += ah[i * K + k] * bh[k * N + j];
      err = Math.max(err, Math.abs(s - ch[i * N + j]) / Math.max(1, Math.abs(s)));
    }
  a.dispose();
  b.dispose();
  return err;
}

const variants = [
  { tiled: 'db', bk: 8, tile: 0 },
  { tiled: 'db4', bk: 8, tile: 0 },
  { tiled: 'db4', bk: 16, tile: 0 },
  { tiled: 'db4', bk: 0, tile: 64 }, // 64×64 tiles: 4× the workgroups of 128×128 at 1024²
] as const;
setMatmulKernel('tiled');
for (const v of variants) {
  Object.assign(matmulTuning, v);
  const name = `${v.tiled} bk${v.bk}${v.tile ? ` tile${v.tile}` : ''}`;
  let err: number;
  try {
    err = await maxError();
  } catch (e) {
    matmul.push({ variant: name, error: String(e) });
    continue;
  }
  for (const n of quick ? [256] : [1024, 2048, 4096]) {
    const a = keep(rand([n, n]));
    const b = keep(rand([n, n]));
    const ms = await time(() => tidy(() => void a.matmul(b)), Math.max(2, Math.round(2e10 / n ** 3)));
    const row = { variant: name, plan: matmulPlan(a, b).detail, n, ms, tflops: (2 * n ** 3) / ms / 1e9, maxRelError: err };
    matmul.push(row);
    console.log(`matmul ${row.plan} ${n}²: ${row.tflops.toFixed(2)} TFLOP/s (${ms.toFixed(3)} ms), rel. error ${err.toExponential(1)}`);
    a.dispose();
    b.dispose();
  }
  save();
}
setMatmulKernel(null);
Object.assign(matmulTuning, { tiled: 'db4', bk: 0, tile: 0 });

// ---- 2./3. MoCo steps -------------------------------------------------------------------------
async function mocoStep(name: string, encoder: nn.Module & { featureDim: number }, shape: number[], steps: number): Promise<void> {
  manualSeed(0);
  const model = new MoCo({ encoder, dim: 128, K: 4096, m: 0.99, T: 0.1, mlp: true, shuffleBN: true });
  const opt = new optim.SGD(model.parameters(), { lr: 0.06, momentum: 0.9, weightDecay: 5e-4 });
  model.train();
  const xq = keep(rand(shape));
  const xk = keep(rand(shape));
  const step = () =>
    tidy(() => {
      const o = model.step(xq, xk);
      o.loss.backward();
      opt.step();
      opt.zeroGrad();
    });
  const ms = await time(step, steps, 3);
  const { table, totalMs } = await profile(() => step());
  const row = {
    name,
    batch: shape[0],
    msPerStep: ms,
    imagesPerSecond: (shape[0] * 1000) / ms,
    gpuMsProfiled: totalMs,
    kernels: table.slice(0, 25),
  };
  moco.push(row);
  console.log(`${name}: ${ms.toFixed(1)} ms/step, ${row.imagesPerSecond.toFixed(0)} images/s (profiled GPU ${totalMs.toFixed(1)} ms)`);
  for (const r of table.slice(0, 8))
    console.log(`    ${r.kernel.padEnd(28)} ${String(r.calls).padStart(4)} calls ${r.ms.toFixed(2).padStart(9)} ms`);
  xq.dispose();
  xk.dispose();
  save();
}

const B = quick ? 16 : 256;
for (const [name, run] of [
  [
    `MoCo step ResNet-18 CIFAR w64 batch ${B}`,
    () => mocoStep(`resnet18 b${B}`, nn.resnet18Cifar({ width: 64, inChannels: 3 }), [B, 3, 32, 32], quick ? 1 : 5),
  ],
  [
    'MoCo step SmallConvNet w16 batch 128 (default config)',
    () => mocoStep('convnet-w16 b128', new nn.SmallConvNet({ width: 16 }), [quick ? 16 : 128, 1, 28, 28], quick ? 1 : 10),
  ],
] as const) {
  try {
    await run();
  } catch (e) {
    console.log(`${name}: failed: ${(e as Error).message.split('\n')[0]}`);
    errors.push(`${name}: ${String(e)}`);
  }
}
save();

// ---- 4. conv tiling sweep ---------------------------------------------------------------------
const convDefaults = { ...convTuning }; // the per-adapter choice (all 0)
const convVariants: [string, Partial<typeof convTuning>][] = [
  ['default', {}],
  ['wgrad threads 131072', { wgradThreads: 131072 }],
  ['wgrad threads 524288', { wgradThreads: 524288 }],
  ['wgrad 4x1', { wgradCi: 1 }],
  ['wgrad 4x1, threads 262144', { wgradCi: 1, wgradThreads: 262144 }],
  ['wgrad 8x2', { wgradCt: 8 }],
  ['fwd 8x2', { ct: 8 }],
  ['fwd 4x4', { th: 4 }],
];
const NB = quick ? 8 : 256;
for (const [C, HW] of quick
  ? [[64, 32]]
  : [
      [64, 32],
      [128, 16],
      [256, 8],
      [512, 4],
    ]) {
  const x = keep(rand([NB, C, HW, HW]));
  const w = keep(rand([C, C, 3, 3]));
  const gy = keep(rand([NB, C, HW, HW]));
  const flops = 2 * NB * C * HW * HW * C * 9;
  // Backward rules of recorded convs whose other operand needs no gradient.
  const xs = keep(x.detach().requiresGrad_(true));
  const ws = keep(w.detach().requiresGrad_(true));
  const yx = keep(conv2d(xs, w, null, { padding: 1 }));
  const yw = keep(conv2d(x, ws, null, { padding: 1 }));
  for (const [name, tune] of convVariants) {
    Object.assign(convTuning, convDefaults, tune);
    try {
      const iters = Math.max(2, Math.round(2e10 / flops));
      const fwd = await time(() => tidy(() => void conv2d(x, w, null, { padding: 1 })), iters);
      const igrad = await time(() => tidy(() => void yx.node!.backward!(gy)), iters);
      const wgrad = await time(() => tidy(() => void yw.node!.backward!(gy)), iters);
      const tf = (ms: number) => flops / ms / 1e9;
      conv.push({ shape: [NB, C, HW, HW], variant: name, forwardTflops: tf(fwd), inputGradTflops: tf(igrad), weightGradTflops: tf(wgrad) });
      console.log(
        `conv ${C}ch ${HW}×${HW} ${name.padEnd(26)} forward ${tf(fwd).toFixed(2)}  input grad ${tf(igrad).toFixed(2)}  weight grad ${tf(wgrad).toFixed(2)} TFLOP/s`,
      );
    } catch (e) {
      errors.push(`conv ${C} ${HW} ${name}: ${String(e)}`);
    }
  }
  for (const t of [x, w, gy, xs, ws, yx, yw]) t.dispose();
  save();
}
Object.assign(convTuning, convDefaults);
save();
if (!out) console.log(JSON.stringify(result));
shutdown();
