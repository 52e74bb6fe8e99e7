// MoCo v2 pre-training (small), then the two standard evaluations of the frozen backbone:
// the kNN monitor and a linear probe (a linear classifier trained on cached features).
// Both are also run on the randomly initialised backbone first, which is the baseline the
// pre-training has to beat. See docs/MOCO.md for how each piece maps to the paper.
//
//   npx tsx examples/moco_linear_probe.ts                 # ~1 epoch on 2048 Fashion-MNIST images
//   npx tsx examples/moco_linear_probe.ts --train 20000 --epochs 20 --width 16 --K 4096
//
// The default run is far too short for MoCo to learn much; `npm run moco` is the real job.
// Output with the defaults on the 2-core lavapipe machine (examples/README.md has the log):
//   random encoder: kNN 57.00%, linear probe 69.90%
//   MoCo encoder:   kNN 53.60%, linear probe 68.50%   (233 s in all, on a busy machine)

import { init, deviceInfo, manualSeed, tidy, keep, Generator, tensor, twoViews, nn, optim, shutdown } from '../src/index.ts';
import { loadFashionMnist } from '../src/data/node-files.ts';
import { subset, toFloat } from '../src/data/dataset.ts';
import { MoCo } from '../src/moco/moco.ts';
import { knnAccuracy } from '../src/moco/knn.ts';
import { linearProbe } from '../src/moco/probe.ts';
import { extractFeatures } from '../src/cli/train.ts';

const flag = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const trainSize = flag('train', 2048);
const testSize = flag('test', 1000);
const epochs = flag('epochs', 1);
const width = flag('width', 8);
const batchSize = flag('batch', 64);
const K = flag('K', 1024); // queue size: a multiple of the batch, much smaller than the data set
const probeEpochs = flag('probe-epochs', 30);

await init();
console.log(`adapter: ${deviceInfo().backend}`);
manualSeed(0);
const train = subset(loadFashionMnist({ split: 'train' }), trainSize, 0);
const test = subset(loadFashionMnist({ split: 'test' }), testSize, 1);
const yTrain = Array.from(train.labels);
const yTest = Array.from(test.labels);

// The backbone: SmallConvNet without classifier (fc = Identity), 4·width features. Its
// BatchNorms are SplitBatchNorm2d(4 groups): on one device that is what makes "shuffle BN" matter.
const encoder = new nn.SmallConvNet({ width, inChannels: 1, norm: (c) => new nn.SplitBatchNorm2d(c, 4) });

/** kNN top-1 and linear-probe top-1 (%) of the backbone's frozen features. */
async function evaluate(backbone: nn.Module): Promise<{ knn: number; probe: number }> {
  const fTrain = extractFeatures(backbone, train); // eval mode, no augmentation, [N, 4·width]
  const fTest = extractFeatures(backbone, test);
  const knn = await knnAccuracy(fTrain, yTrain, fTest, yTest, { k: 200, t: 0.1 });
  // main_lincls.py's recipe (fc ~ N(0, 0.01), SGD momentum 0.9, no weight decay, lr ×0.1 at 60%
  // and 80% of the epochs) on features standardised per dimension, so lr 0.1 instead of 30.
  const probe = await linearProbe(fTrain, yTrain, fTest, yTest, { epochs: probeEpochs, batch: 256, lr: 0.1 });
  fTrain.dispose();
  fTest.dispose();
  return { knn, probe };
}

const before = await evaluate(encoder);
console.log(`random encoder: kNN ${before.knn.toFixed(2)}%, linear probe ${before.probe.toFixed(2)}%`);

// MoCo v2: MLP head, T = 0.1, m = 0.99, queue of K keys, shuffle BN (CIFAR-10 Colab settings).
const model = new MoCo({ encoder, dim: 128, K, m: 0.99, T: 0.1, mlp: true, shuffleBN: true });
const opt = new optim.SGD(model.parameters(), { lr: 0.06, momentum: 0.9, weightDecay: 5e-4 });
const aug = { jitter: { p: 0.8 }, grayscale: false, blur: false } as const; // crop + flip + jitter
const augGen = new Generator(4);
const orderGen = new Generator(3);
const steps = Math.floor(train.count / batchSize);
const t0 = Date.now();
for (let epoch = 0; epoch < epochs; epoch++) {
  for (const g of opt.paramGroups) g.lr = 0.06 * 0.5 * (1 + Math.cos((Math.PI * epoch) / epochs)); // cosine per epoch
  model.train();
  const order = orderGen.permutation(train.count);
  let lossSum = 0;
  let accSum = 0;
  for (let s = 0; s < steps; s++) {
    const idx = order.subarray(s * batchSize, (s + 1) * batchSize);
    const [loss, acc] = tidy(() => {
      const x = tensor(toFloat(train, idx), [batchSize, 1, 28, 28]);
      const [xq, xk] = twoViews(x, aug, augGen); // two random augmentations of each image
      const out = model.step(xq, xk); // momentum update, keys, InfoNCE, enqueue
      out.loss.backward();
      opt.step();
      opt.zeroGrad();
      return [keep(out.loss.detach()), keep(out.accuracy)];
    });
    const [l, a] = [await loss.item(), await acc.item()];
    loss.dispose();
    acc.dispose();
    lossSum += l;
    accSum += a;
    // The loss starts near ln(K+1) and often rises while the queue fills with real keys.
    if (s % 8 === 0 || s === steps - 1)
      console.log(
        `  epoch ${epoch + 1} step ${s + 1}/${steps}: loss ${l.toFixed(3)} (ln(K+1) = ${Math.log(K + 1).toFixed(2)}), pretext acc ${(100 * a).toFixed(1)}%`,
      );
  }
  console.log(`epoch ${epoch + 1}: mean loss ${(lossSum / steps).toFixed(3)}, pretext acc ${((100 * accSum) / steps).toFixed(1)}%`);
}
console.log(`pre-training: ${((Date.now() - t0) / 1000).toFixed(0)} s`);

const after = await evaluate(model.backbone);
console.log(`MoCo encoder:   kNN ${after.knn.toFixed(2)}%, linear probe ${after.probe.toFixed(2)}%`);
console.log(
  `change vs random encoder: kNN ${(after.knn - before.knn).toFixed(2)}, linear probe ${(after.probe - before.probe).toFixed(2)} points`,
);
shutdown();
