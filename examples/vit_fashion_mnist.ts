// A small Vision Transformer on Fashion-MNIST: each 28×28 image is cut into 16 patches of 7×7
// pixels, embedded by a Linear layer, prefixed with a learned class token, given learned position
// embeddings (nn.init.truncNormal, std 0.02) and run through pre-norm transformer blocks
// (nn.LayerNorm → nn.MultiheadAttention → residual → nn.LayerNorm → MLP with nn.GELU → residual);
// the class token's final state is classified. Trained with optim.AdamW and crossEntropy.
// Fashion-MNIST comes from the Debian package dataset-fashion-mnist
// (`bash scripts/setup.sh --with-data` installs it).
//
//   npx tsx examples/vit_fashion_mnist.ts                        # 3 epochs on 4000 images, dim 32, 2 blocks
//   npx tsx examples/vit_fashion_mnist.ts --train 60000 --epochs 10 --dim 64 --depth 4
//
// Output with the defaults on the 2-core lavapipe machine: examples/README.md.

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
  concat,
  nn,
  optim,
  shutdown,
  type Tensor,
} from '../src/index.ts';
import { loadFashionMnist } from '../src/data/node-files.ts';
import { toFloat, subset } from '../src/data/dataset.ts';

const flag = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const trainSize = flag('train', 4000);
const testSize = flag('test', 1000);
const epochs = flag('epochs', 3);
const dim = flag('dim', 32);
const depth = flag('depth', 2);
const heads = flag('heads', 2);
const batchSize = flag('batch', 64);
const lr = flag('lr', 2e-3);
const PATCH = 7;
const TOKENS = (28 / PATCH) ** 2;

/** Pre-norm transformer block: x + attn(norm1(x)), then y + mlp(norm2(y)). */
class Block extends nn.Module {
  norm1 = new nn.LayerNorm(dim);
  attn = new nn.MultiheadAttention(dim, heads, { batchFirst: true });
  norm2 = new nn.LayerNorm(dim);
  mlp = new nn.Sequential(new nn.Linear(dim, 2 * dim), new nn.GELU(), new nn.Linear(2 * dim, dim));
  forward(x: Tensor): Tensor {
    const h = this.norm1.forward(x);
    const y = x.add(this.attn.forward(h, h, h));
    return y.add(this.mlp.forward(this.norm2.forward(y)));
  }
}

class ViT extends nn.Module {
  embed = new nn.Linear(PATCH * PATCH, dim);
  clsToken = nn.parameter(nn.init.truncNormal([1, 1, dim], { std: 0.02 }));
  posEmbed = nn.parameter(nn.init.truncNormal([1, TOKENS + 1, dim], { std: 0.02 }));
  blocks = new nn.Sequential(...Array.from({ length: depth }, () => new Block()));
  norm = new nn.LayerNorm(dim);
  head = new nn.Linear(dim, 10);
  forward(images: Tensor): Tensor {
    const b = images.shape[0];
    // [B, 1, 28, 28] → [B, 16, 49]: patch rows and columns become the token axis.
    const patches = images
      .reshape(b, 4, PATCH, 4, PATCH)
      .permute(0, 1, 3, 2, 4)
      .reshape(b, TOKENS, PATCH * PATCH);
    const tokens = concat([this.clsToken.expand(b, 1, dim), this.embed.forward(patches)], 1).add(this.posEmbed);
    const cls = this.norm.forward(this.blocks.forward(tokens)).slice(1, 0, 1).reshape(b, dim);
    return this.head.forward(cls);
  }
}

await init();
console.log(`adapter: ${deviceInfo().backend}`);
manualSeed(0);
const fullTrain = loadFashionMnist({ split: 'train' });
const fullTest = loadFashionMnist({ split: 'test' });
const train = trainSize < fullTrain.count ? subset(fullTrain, trainSize, 0) : fullTrain;
const test = testSize < fullTest.count ? subset(fullTest, testSize, 1) : fullTest;
console.log(`Fashion-MNIST: ${train.count} train / ${test.count} test images`);

const model = new ViT();
console.log(
  `ViT(dim ${dim}, depth ${depth}, heads ${heads}, ${TOKENS} patches of ${PATCH}×${PATCH}): ${model.parameters().reduce((n, p) => n + p.size, 0)} parameters`,
);
const loader = new BatchLoader(train, { batchSize, seed: 1, labels: true });
const opt = new optim.AdamW(model.parameters(), { lr, weightDecay: 0.05 });
const sched = new optim.LRScheduler(opt, optim.perStep(optim.cosine(epochs), loader.length));

const t0 = Date.now();
for (let epoch = 1; epoch <= epochs; epoch++) {
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
    if (batch.index % 10 === 9)
      process.stdout.write(`  step ${batch.index + 1}/${loader.length} loss ${(lossSum / (batch.index + 1)).toFixed(3)}\r`);
  }
  const secs = (Date.now() - tEpoch) / 1000;
  console.log(
    `epoch ${epoch}: loss ${(lossSum / loader.length).toFixed(4)}, test accuracy ${(await accuracy()).toFixed(2)}%  (${secs.toFixed(0)} s)`,
  );
}
console.log(`done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
shutdown();

/** Top-1 accuracy (%) on the test set. */
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
