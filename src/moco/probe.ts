// The linear probe (main_lincls.py): a linear classifier trained on the frozen backbone's
// features. The backbone runs once in eval mode (BN frozen) and its features are cached, so the
// probe trains only the classifier — the "offline" protocol of solo-learn/lightly, without
// augmentation. As in MoCo: fc initialised N(0, 0.01), bias 0, SGD momentum 0.9, no weight
// decay, lr × 0.1 at 60% and 80% of the epochs. MoCo needs lr 30 because ResNet features are
// tiny; here the features are first standardised per dimension with the training set's mean and
// std (a parameter-free BatchNorm, as MAE's linear probe does), which makes one learning rate
// (default 0.1) work for any backbone.

import { Tensor } from '../tensor.ts';
import { scoped, keep } from '../scope.ts';
import { noGrad } from '../autograd/graph.ts';
import { fmt } from '../shape.ts';
import { Generator } from '../random.ts';
import { randn, zeros } from '../creation.ts';
import { fromArray } from '../ops/creation-internal.ts';
import { indexSelect } from '../ops/shape.ts';
import { linear } from '../ops/linear.ts';
import { crossEntropy } from '../ops/loss.ts';
import { argmax } from '../ops/reduce.ts';
import { eq } from '../ops/elementwise.ts';
import { SGD } from '../optim/sgd.ts';
import { mapInto } from '../ops/map.ts';

/** Linear-probe options (epochs 100, lr 0.1, batch 256, momentum 0.9, no weight decay). */
export interface ProbeOptions {
  epochs?: number;
  lr?: number;
  batch?: number;
  weightDecay?: number;
  momentum?: number;
  /** Fractions of the epochs at which lr is multiplied by 0.1. */
  milestones?: number[];
  classes?: number;
  seed?: number;
  /** Called after every epoch with (epoch, mean training loss). */
  onEpoch?: (epoch: number, loss: number) => void;
}

/**
 * Trains a linear classifier on [N, D] features and returns test top-1 accuracy in percent.
 * @example
 * const f = tensor([[1, 0], [0, 1], [1, 0.1], [0.1, 1]]);
 * await linearProbe(f, [0, 1, 0, 1], f, [0, 1, 0, 1], { epochs: 20, batch: 4, lr: 1 }) // 100
 */
export async function linearProbe(
  trainFeatures: Tensor,
  trainLabels: ArrayLike<number>,
  testFeatures: Tensor,
  testLabels: ArrayLike<number>,
  opts: ProbeOptions = {},
): Promise<number> {
  const [N, D] = trainFeatures.shape;
  if (trainFeatures.ndim !== 2 || testFeatures.ndim !== 2 || testFeatures.shape[1] !== D) {
    throw new Error(
      `linearProbe: features must be [N, D] with the same D (got ${fmt(trainFeatures.shape)} and ${fmt(testFeatures.shape)})`,
    );
  }
  if (trainLabels.length !== N || testLabels.length !== testFeatures.shape[0]) {
    throw new Error(
      `linearProbe: ${N} train features but ${trainLabels.length} labels, ${testFeatures.shape[0]} test features but ${testLabels.length} labels`,
    );
  }
  const epochs = opts.epochs ?? 100;
  const batch = Math.min(opts.batch ?? 256, N);
  const classes = opts.classes ?? Math.max(...Array.from(trainLabels), ...Array.from(testLabels)) + 1;
  const gen = new Generator(opts.seed ?? 0);
  const weight = keep(randn([classes, D], { std: 0.01, generator: gen, requiresGrad: true }));
  const bias = keep(zeros([classes], { requiresGrad: true }));
  const baseLr = opts.lr ?? 0.1;
  const opt = new SGD([weight, bias], { lr: baseLr, momentum: opts.momentum ?? 0.9, weightDecay: opts.weightDecay ?? 0 });
  const milestones = (opts.milestones ?? [0.6, 0.8]).map((f) => Math.round(f * epochs));
  // Standardise with training statistics (no gradient: the backbone and this scaling are frozen).
  const [train, test] = noGrad(() => {
    const mu = trainFeatures.mean(0, true);
    const sd = trainFeatures.var(0, { keepdim: true, correction: 0 }).sqrt().add(1e-6);
    return [keep(trainFeatures.sub(mu).div(sd)), keep(testFeatures.sub(mu).div(sd))];
  });
  const yTrain = fromArray(Float32Array.from(trainLabels), [N]);
  const steps = Math.floor(N / batch);
  for (let epoch = 0; epoch < epochs; epoch++) {
    const lr = baseLr * 0.1 ** milestones.filter((m) => epoch >= m).length;
    for (const g of opt.paramGroups) g.lr = lr;
    const order = gen.permutation(N);
    const lossSum = zeros([]); // accumulated on the GPU: one readback per epoch
    for (let s = 0; s < steps; s++) {
      const idx = fromArray(order.subarray(s * batch, (s + 1) * batch), [batch], 'int32');
      scoped(() => {
        const x = indexSelect(train, 0, idx);
        const l = crossEntropy(linear(x, weight, bias), indexSelect(yTrain, 0, idx).int());
        l.backward();
        opt.step();
        opt.zeroGrad();
        noGrad(() => mapInto(lossSum, [lossSum, l], 'x0 + x1', 'probe.loss'));
      });
      idx.dispose();
    }
    if (opts.onEpoch) opts.onEpoch(epoch + 1, (await lossSum.item()) / steps);
    lossSum.dispose();
  }
  const correct = noGrad(() =>
    scoped(() =>
      eq(argmax(linear(test, weight, bias), 1), fromArray(testLabels, [testLabels.length], 'int32'))
        .float()
        .sum(),
    ),
  );
  const acc = (100 * (await correct.item())) / testLabels.length;
  for (const t of [correct, weight, bias, yTrain, train, test]) {
    t.grad?.dispose();
    t.dispose();
  }
  return acc;
}
