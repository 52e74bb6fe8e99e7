// End to end: SmallConvNet trained with SGD (momentum 0.9, weight decay 5e-4, per-step cosine
// schedule) on 2,000 Fashion-MNIST training images reaches ≥ 80% accuracy on 1,000 test images.
// Skipped when the dataset is not installed (apt-get install dataset-fashion-mnist).
//
// Width, epochs, batch and lr were chosen with the PyTorch twin (test/nn/torch_models.py) over 6
// seeds and random subsets: width 8, 12 epochs, batch 25, lr 0.05 gave 82.4% mean, 81.2% worst
// (8 epochs at batch 50 only 79%). wgrad's run reaches 83.3%; about 6 minutes on a loaded 2-core
// lavapipe machine, most of it in convolution kernels.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { skip } from '../skip.ts';
import { Tensor, tensor, tidy, noGrad, manualSeed, crossEntropy, nn, optim, Generator } from '../../src/index.ts';
import { loadFashionMnist } from '../../src/data/node-files.ts';
import { subset, toFloat, type ImageDataset } from '../../src/data/dataset.ts';
import { setup } from '../helpers.ts';

test.before(setup);

const TRAIN = 2000;
const TEST = 1000;
const EPOCHS = 12;
const BATCH = 25;
const WIDTH = 8;
// Fashion-MNIST pixel mean and standard deviation (training set).
const MEAN = 0.286;
const STD = 0.353;

function batchOf(ds: ImageDataset, idx: ArrayLike<number>) {
  const px = toFloat(ds, idx);
  for (let i = 0; i < px.length; i++) px[i] = (px[i] - MEAN) / STD;
  const x = tensor(px, [idx.length, 1, 28, 28]);
  const y = tensor(
    Int32Array.from(idx, (i) => ds.labels[i]),
    [idx.length],
  );
  return { x, y };
}

function load(): { train: ImageDataset; test: ImageDataset } | null {
  try {
    return { train: subset(loadFashionMnist({ split: 'train' }), TRAIN, 1), test: subset(loadFashionMnist({ split: 'test' }), TEST, 2) };
  } catch (e) {
    skip(`Fashion-MNIST not available (${(e as Error).message.split('\n')[0]}; bash scripts/setup.sh --with-data)`);
    return null;
  }
}

test(`SmallConvNet(width ${WIDTH}) + SGD + cosine: ≥ 80% test accuracy after ${EPOCHS} epochs on ${TRAIN} images`, async () => {
  const data = load();
  if (!data) return;
  const t0 = performance.now();
  manualSeed(0);
  const net = new nn.SmallConvNet({ width: WIDTH, numClasses: 10 });
  const opt = new optim.SGD(net.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
  const stepsPerEpoch = TRAIN / BATCH;
  const sched = new optim.LRScheduler(opt, optim.cosine(EPOCHS * stepsPerEpoch));
  const order = new Generator(3);
  let firstLoss = NaN;
  let lastLoss = NaN;
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    const perm = order.permutation(TRAIN);
    const losses: Tensor[] = [];
    for (let s = 0; s < stepsPerEpoch; s++) {
      const loss = tidy(() => {
        const { x, y } = batchOf(data.train, perm.subarray(s * BATCH, (s + 1) * BATCH));
        const l = crossEntropy(net.forward(x), y);
        opt.zeroGrad();
        l.backward();
        opt.step();
        return l.detach();
      });
      sched.step();
      losses.push(loss);
    }
    // One readback per epoch: the mean training loss.
    const mean = await tidy(() => losses.reduce((a, b) => a.add(b)).mul(1 / losses.length)).item();
    for (const l of losses) l.dispose();
    if (epoch === 0) firstLoss = mean;
    lastLoss = mean;
    if (process.env.VERBOSE)
      console.log(
        `epoch ${epoch + 1}: loss ${mean.toFixed(4)}, lr ${opt.paramGroups[0].lr.toExponential(2)}, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
  }
  net.eval();
  let correct = 0;
  for (let start = 0; start < TEST; start += 250) {
    const idx = Array.from({ length: Math.min(250, TEST - start) }, (_, k) => start + k);
    const predicted = noGrad(() => tidy(() => net.forward(batchOf(data.test, idx).x).argmax(1)));
    (await predicted.toArray()).forEach((p, k) => (correct += p === data.test.labels[idx[k]] ? 1 : 0));
    predicted.dispose();
  }
  const acc = correct / TEST;
  const secs = (performance.now() - t0) / 1000;
  console.log(
    `  Fashion-MNIST: ${(100 * acc).toFixed(1)}% test accuracy, training loss ${firstLoss.toFixed(3)} → ${lastLoss.toFixed(3)}, ${secs.toFixed(1)} s`,
  );
  assert.ok(lastLoss < firstLoss, 'the training loss decreases');
  assert.ok(acc >= 0.8, `test accuracy ${(100 * acc).toFixed(1)}% < 80%`);
  assert.is(opt.paramGroups[0].lr, 0, 'cosine schedule ends at 0');
});

test.run();
