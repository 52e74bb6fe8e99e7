// A convolutional classifier on Fashion-MNIST: nn.SmallConvNet (3×3 convolutions, BatchNorm,
// ReLU, max-pooling, global average pooling, a Linear classifier) trained with optim.SGD
// (momentum 0.9, weight decay 5e-4) and a per-step cosine learning-rate schedule
// (optim.LRScheduler + optim.perStep(optim.cosine(epochs))). Prints loss and test accuracy.
// Fashion-MNIST comes from the Debian package dataset-fashion-mnist
// (`bash scripts/setup.sh --with-data` installs it).
//
//   npx tsx examples/convnet_fashion_mnist.ts                       # 2 epochs on 3000 images, width 8
//   npx tsx examples/convnet_fashion_mnist.ts --train 60000 --epochs 10 --width 32
//
// Output with the defaults on the 2-core lavapipe machine (examples/README.md has the log):
//   epoch 2: loss 1.0147, test accuracy 69.50%  (294 s in all, ~23 img/s, on a busy machine)

import {
  init,
  deviceInfo,
  manualSeed,
  tidy,
  noGrad,
  BatchLoader,
  tensor,
  argmax,
  eq,
  crossEntropy,
  nn,
  optim,
  shutdown,
} from '../src/index.ts';
import { loadFashionMnist, FASHION_MNIST_CLASSES } from '../src/data/node-files.ts';
import { toFloat, subset } from '../src/data/dataset.ts';

const flag = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const trainSize = flag('train', 3000);
const testSize = flag('test', 1000);
const epochs = flag('epochs', 2);
const width = flag('width', 8);
const batchSize = flag('batch', 64);
const lr = flag('lr', 0.05);

await init();
console.log(`adapter: ${deviceInfo().backend}`);
manualSeed(0);

const fullTrain = loadFashionMnist({ split: 'train' });
const fullTest = loadFashionMnist({ split: 'test' });
const train = trainSize < fullTrain.count ? subset(fullTrain, trainSize, 0) : fullTrain;
const test = testSize < fullTest.count ? subset(fullTest, testSize, 1) : fullTest;
console.log(`Fashion-MNIST: ${train.count} train / ${test.count} test images; classes ${FASHION_MNIST_CLASSES.join(', ')}`);

// Stages of width, 2·width, 4·width channels; numClasses adds the Linear classifier as `fc`.
const model = new nn.SmallConvNet({ width, inChannels: 1, numClasses: 10 });
const nParams = model.parameters().reduce((n, p) => n + p.size, 0);
console.log(`SmallConvNet(width ${width}): ${nParams} parameters`);

const loader = new BatchLoader(train, { batchSize, seed: 1, labels: true });
const opt = new optim.SGD(model.parameters(), { lr, momentum: 0.9, weightDecay: 5e-4 });
// The schedule counts steps: cosine over `epochs` epochs, evaluated at fractional epochs.
const sched = new optim.LRScheduler(opt, optim.perStep(optim.cosine(epochs), loader.length));

const t0 = Date.now();
for (let epoch = 1; epoch <= epochs; epoch++) {
  model.train(); // BatchNorm uses batch statistics and updates its running ones
  const tEpoch = Date.now();
  let lossSum = 0;
  for (const batch of loader.epoch()) {
    const loss = tidy(() => {
      const l = crossEntropy(model.forward(batch.images), batch.labelTensor!);
      l.backward();
      opt.step();
      opt.zeroGrad();
      return l;
    });
    sched.step();
    lossSum += await loss.item();
    loss.dispose();
    if (batch.index % 50 === 49)
      process.stdout.write(
        `  step ${batch.index + 1}/${loader.length} loss ${(lossSum / (batch.index + 1)).toFixed(3)} lr ${sched.lrs[0].toFixed(4)}\r`,
      );
  }
  const secs = (Date.now() - tEpoch) / 1000;
  const acc = await accuracy();
  console.log(
    `epoch ${epoch}: loss ${(lossSum / loader.length).toFixed(4)}, test accuracy ${acc.toFixed(2)}%  (${secs.toFixed(0)} s, ${((loader.length * batchSize) / secs).toFixed(0)} img/s)`,
  );
}
console.log(`done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
shutdown();

/** Top-1 accuracy (%) on the test set in eval mode (BatchNorm uses its running statistics). */
async function accuracy(): Promise<number> {
  model.eval();
  let correct = 0;
  for (let s = 0; s < test.count; s += 500) {
    const idx = Array.from({ length: Math.min(500, test.count - s) }, (_, i) => s + i);
    const hits = noGrad(() =>
      tidy(() => {
        const x = tensor(toFloat(test, idx), [idx.length, 1, 28, 28]);
        const y = tensor(Float32Array.from(idx, (i) => test.labels[i]));
        return eq(argmax(model.forward(x), 1), y)
          .float()
          .sum();
      }),
    );
    correct += await hits.item();
    hits.dispose();
  }
  model.train();
  return (100 * correct) / test.count;
}
