// The MoCo training step of wgrad's default config written in TensorFlow.js, for `npm run bench
// -- --peers`: same SmallConvNet (conv3×3 no bias → SplitBatchNorm → ReLU; widths w, w, pool,
// 2w, 2w, pool, 4w; global average pool), MLP head, L2-normalised q and k, a momentum key encoder
// fed a shuffled batch and un-shuffled, InfoNCE against a K × dim queue, SGD with momentum and
// weight decay, the momentum update of the key encoder and the enqueue. tfjs works in NHWC.
//
// Differences from wgrad's step, all in tfjs' favour: the two views are fixed tensors (wgrad
// augments both on the GPU every step), the running BN statistics are not tracked, and the queue
// is a shift (concat) instead of a ring buffer write.

type TF = typeof import('@tensorflow/tfjs-core');
type T = import('@tensorflow/tfjs-core').Tensor;
type V = import('@tensorflow/tfjs-core').Variable;
type T4 = import('@tensorflow/tfjs-core').Tensor4D;

export interface MocoPeerConfig {
  batch: number;
  width: number;
  K: number;
  dim: number;
  m: number;
  T: number;
  lr: number;
  wd: number;
  bnSplits: number;
}

export function mocoStepTfjs(tf: TF, c: MocoPeerConfig): { step: () => void; dispose: () => void } {
  const { batch: B, width: w } = c;
  const convs: [number, number][] = [
    [1, w],
    [w, w],
    [w, 2 * w],
    [2 * w, 2 * w],
    [2 * w, 4 * w],
  ];
  const feat = 4 * w;
  const he = (shape: number[], fanIn: number) => tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn));
  const makeParams = (trainable: boolean, from?: V[]) => {
    const init: T[] = [];
    for (const [ci, co] of convs) init.push(he([3, 3, ci, co], 9 * ci), tf.ones([co]), tf.zeros([co]));
    init.push(he([feat, feat], feat), tf.zeros([feat]), he([feat, c.dim], feat), tf.zeros([c.dim]));
    return init.map((t, i) => tf.variable(from ? from[i].clone() : t, trainable));
  };
  const q = makeParams(true);
  const k = makeParams(false, q);
  const queue = tf.variable(tf.randomNormal([c.K, c.dim]), false);
  const xq = tf.randomUniform([B, 28, 28, 1]);
  const xk = tf.randomUniform([B, 28, 28, 1]);
  const opt = tf.train.momentum(c.lr, 0.9);

  // SplitBatchNorm: sample n uses the statistics of the samples n' ≡ n (mod splits).
  const splitBn = (x: T, gamma: T, beta: T) => {
    const [n, h, wd, ch] = x.shape;
    const g = tf.reshape(x, [n / c.bnSplits, c.bnSplits, h, wd, ch]);
    const { mean, variance } = tf.moments(g, [0, 2, 3], true);
    const y = tf.reshape(tf.mul(tf.sub(g, mean), tf.rsqrt(tf.add(variance, 1e-5))), [n, h, wd, ch]);
    return tf.add(tf.mul(y, gamma), beta);
  };
  const encode = (p: T[], x: T) => {
    let h = x as T4;
    convs.forEach((_, i) => {
      h = tf.relu(splitBn(tf.conv2d(h, p[3 * i] as T4, 1, 'same'), p[3 * i + 1], p[3 * i + 2])) as T4;
      if (i === 1 || i === 3) h = tf.maxPool(h, 2, 2, 'valid');
    });
    const f = tf.mean(h, [1, 2]);
    const j = 3 * convs.length;
    const z = tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(f, p[j]), p[j + 1])), p[j + 2]), p[j + 3]);
    return tf.div(z, tf.maximum(tf.sqrt(tf.sum(tf.square(z), 1, true)), 1e-12));
  };

  const step = () => {
    for (let i = 0; i < q.length; i++) k[i].assign(tf.add(tf.mul(k[i], c.m), tf.mul(q[i], 1 - c.m)));
    const order = Array.from(tf.util.createShuffledIndices(B));
    const inverse = new Array<number>(B);
    order.forEach((p, i) => (inverse[p] = i));
    const keys = tf.gather(encode(k, tf.gather(xk, tf.tensor1d(order, 'int32'))), tf.tensor1d(inverse, 'int32'));
    opt.minimize(
      () => {
        const qv = encode(q, xq);
        const pos = tf.sum(tf.mul(qv, keys), 1, true);
        const neg = tf.matMul(qv, queue, false, true);
        const logits = tf.div(tf.concat([pos, neg], 1), c.T);
        const ce = tf.neg(tf.mean(tf.slice(tf.logSoftmax(logits), [0, 0], [B, 1])));
        // SGD weight decay as an L2 term (pairwise adds: tf.addN of 19 inputs exceeds the 16 storage buffers per stage)
        const decay = tf.mul(
          q.map((v) => tf.sum(tf.square(v))).reduce((a, b) => tf.add(a, b)),
          c.wd / 2,
        );
        return tf.add(ce, decay) as import('@tensorflow/tfjs-core').Scalar;
      },
      false,
      q,
    );
    queue.assign(tf.concat([tf.slice(queue, [B, 0], [c.K - B, c.dim]), keys], 0));
  };
  return {
    step,
    dispose: () => {
      tf.dispose([...q, ...k, queue, xq, xk]);
      opt.dispose();
    },
  };
}
