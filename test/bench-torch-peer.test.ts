// The PyTorch CPU peer of `npm run bench -- --peers` (bench/peers/torch_cpu.py driven by
// bench/peers/torch-cpu.ts): its replies are sane, and its MoCo network is the one wgrad's
// MoCo row trains (same parameter count as the default config's SmallConvNet + MLP head), so
// the two are timed on the same workload.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { skip } from './skip.ts';
import { setup } from './helpers.ts';
import { TorchCpu } from '../bench/peers/torch-cpu.ts';
import { TRAIN_OPTIONS, buildEncoder, buildModel } from '../src/cli/train.ts';
import { parseArgs } from '../src/cli/args.ts';

test.before(setup);

test("PyTorch CPU peer: sane replies, and its MoCo network has the parameters of wgrad's", async () => {
  const py = await TorchCpu.start();
  if (typeof py === 'string') return skip(py);
  try {
    assert.ok(py.threads >= 1, `threads ${py.threads}`);
    // A 64² matmul of N(0, 1) entries: each output entry has variance 64, so |value| < 8·8 is sure.
    const mm = await py.work('matmul', { S: 64 });
    mm.step();
    mm.step();
    await mm.settle();
    const v = mm.value();
    assert.ok(v !== null && Number.isFinite(v) && Math.abs(v) < 64 && v !== 0, `matmul value ${v}`);
    assert.ok(mm.cpuMs() > 0, `cpu ms ${mm.cpuMs()}`);
    await mm.dispose();

    // The MLP step of benchMlp: 784-512-512-10 has 784·512 + 512 + 512·512 + 512 + 512·10 + 10 parameters.
    const mlp = await py.work('mlp', { B: 8, D: 784, H: 512, O: 10 });
    assert.is(mlp.info.params, 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10);
    mlp.step();
    await mlp.settle();
    const l0 = mlp.value()!;
    // Cross-entropy of 10 classes at PyTorch's initialisation is near ln 10.
    assert.ok(Math.abs(l0 - Math.log(10)) < 0.5, `MLP loss ${l0}, expected ≈ ${Math.log(10).toFixed(3)}`);

    // benchMoco's config, on a tiny batch and queue (neither changes the parameters).
    const cfg = parseArgs([], TRAIN_OPTIONS, 'bench');
    const encoder = buildEncoder(cfg, 1);
    const model = buildModel(cfg, encoder);
    const mine = model.parameters().reduce((n, p) => n + p.size, 0);
    const moco = await py.work('moco', {
      batch: 8,
      width: cfg.width,
      K: 32,
      dim: cfg.dim,
      m: cfg.m,
      T: cfg.T,
      lr: cfg.lr,
      wd: cfg.wd,
      bnSplits: 4,
      mlp: cfg.mlp,
    });
    assert.is(
      moco.info.params,
      mine,
      `PyTorch MoCo query encoder has ${moco.info.params} parameters, wgrad's ${mine} (width ${cfg.width}, dim ${cfg.dim})`,
    );
    moco.step();
    await moco.settle();
    const loss = moco.value()!;
    // InfoNCE over 1 + K logits: at least 0, and at init (q·k ≤ 1, T 0.1) at most ln(33) + 2/T.
    assert.ok(Number.isFinite(loss) && loss > 0 && loss < Math.log(33) + 20, `MoCo loss ${loss}`);

    // An unknown workload is an error that names the known ones.
    const err = await py.work('nonsense', {}).then(
      () => null,
      (e: Error) => e.message,
    );
    assert.match(err ?? 'resolved', /unknown workload 'nonsense' \(workloads: matmul, conv, mlp, moco\)/);
  } finally {
    py.close();
  }
});

test.run();
