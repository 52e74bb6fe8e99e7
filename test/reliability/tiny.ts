// A tiny MoCo training step for the reliability tests and bench/longrun.ts: the same path as
// `wgrad-moco train` (GPU augmentation → MoCo.step → backward → SGD with momentum, SplitBatchNorm
// with shuffled keys, queue updates) on small synthetic images, so hundreds of steps run in
// seconds on a software adapter.

import { tidy, keep, manualSeed, Generator, Tensor, twoViews, nn, optim } from '../../src/index.ts';
import { fromArray } from '../../src/ops/creation-internal.ts';
import { MoCo } from '../../src/moco/moco.ts';

export interface TinyOptions {
  seed?: number;
  batch?: number;
  side?: number;
  width?: number;
  K?: number;
  dim?: number;
}

export interface TinyRun {
  /** One training step; returns the loss as a scalar tensor the caller owns (read it or dispose it). */
  step(): Tensor;
  dispose(): void;
  model: MoCo;
}

export function tinyMoco(o: TinyOptions = {}): TinyRun {
  const { seed = 0, batch = 8, side = 16, width = 2, K = 32, dim = 16 } = o;
  manualSeed(seed);
  const encoder = new nn.SmallConvNet({ width, inChannels: 1, norm: (c: number) => new nn.SplitBatchNorm2d(c, 2) });
  const model = new MoCo({ encoder, dim, K, m: 0.99, T: 0.2, mlp: true, shuffleBN: true });
  const opt = new optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
  const dataGen = new Generator(seed + 3);
  const augGen = new Generator(seed + 4);
  const images = new Float32Array(batch * side * side);
  return {
    model,
    step(): Tensor {
      for (let i = 0; i < images.length; i++) images[i] = dataGen.uniform();
      return tidy(() => {
        const x = fromArray(images, [batch, 1, side, side]);
        const [xq, xk] = twoViews(x, { jitter: { p: 0.8 }, grayscale: false, blur: false }, augGen);
        const out = model.step(xq, xk);
        out.loss.backward();
        opt.step();
        opt.zeroGrad();
        return keep(out.loss.detach());
      });
    },
    dispose(): void {
      opt.disposeState();
      for (const t of Object.values(model.encoderQ.stateDict())) t.dispose();
      for (const t of Object.values(model.momentum.key.stateDict())) t.dispose();
      model.queue.dispose();
    },
  };
}
