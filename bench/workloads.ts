// The workloads that the Node harness (bench/run.ts) and the browser page (bench/web/page.ts)
// both time, each as wgrad runs it and as TensorFlow.js runs it, with their sizes: the page's
// "full" sizes are the Node harness's, "small" ones finish in seconds on a software adapter.

import { randn, rand, keep, noGrad, crossEntropy, nn, optim, type Tensor } from '../src/index.ts';
import { matmulRaw } from '../src/ops/matmul.ts';
import type { PeerWork } from './measure.ts';
import type { MocoPeerConfig } from './peers/moco-tfjs.ts';

type TF = typeof import('@tensorflow/tfjs-core');
type T4 = import('@tensorflow/tfjs-core').Tensor4D;

// ---- matmul: C = A·B, square, f32 ---------------------------------------------------------------

export const matmulFlops = (S: number) => 2 * S ** 3;

/** Two random S×S operands and wgrad's product (the auto-chosen kernel unless one is forced). */
export function matmulWgrad(S: number) {
  const a = keep(randn([S, S]));
  const b = keep(randn([S, S]));
  return {
    a,
    b,
    step: () => matmulRaw(a, b),
    dispose: () => {
      a.dispose();
      b.dispose();
    },
  };
}

export function matmulTfjs(tf: TF, S: number): PeerWork {
  const [x, y] = [tf.randomNormal([S, S]), tf.randomNormal([S, S])];
  return { step: () => void tf.matMul(x, y), dispose: () => tf.dispose([x, y]) };
}

// ---- conv2d: 3×3, padding 1 (the MoCo ConvNet's second layer at width 16) -----------------------

export interface ConvShape {
  N: number;
  C: number;
  H: number;
  W: number;
  Co: number;
  k: number;
}
export const convFlops = ({ N, C, H, W, Co, k }: ConvShape) => 2 * N * Co * H * W * C * k * k;
type Conv2d = typeof import('../src/ops/conv.ts').conv2d;

/**
 * wgrad's conv2d forward and its two backward rules (each of a recorded conv whose other operand
 * needs no gradient), applied to a random output gradient.
 */
export function convWgrad(conv2d: Conv2d, { N, C, H, W, Co, k }: ConvShape) {
  const x = keep(randn([N, C, H, W]));
  const w = keep(randn([Co, C, k, k], { std: 0.1 }));
  const gy = keep(randn([N, Co, H, W]));
  const recorded = (which: 0 | 1) => {
    const xs = keep(x.detach().requiresGrad_(which === 0));
    const ws = keep(w.detach().requiresGrad_(which === 1));
    return [keep(conv2d(xs, ws, null, { padding: 1 })), xs, ws];
  };
  const [yx, yw] = [recorded(0), recorded(1)];
  return {
    x,
    w,
    forward: () => noGrad(() => conv2d(x, w, null, { padding: 1 })),
    inputGrad: () => noGrad(() => yx[0].node!.backward!(gy)),
    weightGrad: () => noGrad(() => yw[0].node!.backward!(gy)),
    dispose: () => {
      for (const v of [...yx, ...yw, x, w, gy]) v.dispose();
    },
  };
}

/** tfjs' conv2d in its NHWC layout: forward, or one of the two backward kernels its gradient runs. */
export function convTfjs(tf: TF, { N, C, H, W, Co, k }: ConvShape, which: 'forward' | 'input_grad' | 'weight_grad' = 'forward'): PeerWork {
  const [v, f] = [tf.randomNormal([N, H, W, C]), tf.randomNormal([k, k, C, Co], 0, 0.1)];
  const dy = which === 'forward' ? null : tf.randomNormal([N, H, W, Co]);
  const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC' };
  const step =
    which === 'forward'
      ? () => void tf.conv2d(v as T4, f as T4, 1, 'same')
      : which === 'input_grad'
        ? () => void tf.engine().runKernel('Conv2DBackpropInput', { dy: dy!, filter: f }, { ...attrs, inputShape: v.shape })
        : () => void tf.engine().runKernel('Conv2DBackpropFilter', { x: v, dy: dy! }, { ...attrs, filterShape: f.shape });
  return { step, dispose: () => tf.dispose([v, f, ...(dy ? [dy] : [])]) };
}

// ---- MLP training step: forward, cross-entropy, backward, SGD with momentum ----------------------

export interface MlpShape {
  B: number;
  D: number;
  H: number;
  O: number;
}
export const mlpFlops = ({ B, D, H, O }: MlpShape) => 3 * 2 * B * (D * H + H * H + H * O); // forward + backward ≈ 3 × forward

export function mlpWgrad({ B, D, H, O }: MlpShape) {
  const model = new nn.Sequential(new nn.Linear(D, H), new nn.ReLU(), new nn.Linear(H, H), new nn.ReLU(), new nn.Linear(H, O));
  const opt = new optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const x = keep(randn([B, D]));
  const labels = Array.from({ length: B }, (_, i) => i % O);
  const trainStep = (): Tensor => {
    const loss = crossEntropy(model.forward(x), labels);
    loss.backward();
    opt.step();
    opt.zeroGrad();
    return loss;
  };
  return {
    x,
    labels,
    trainStep,
    dispose: () => {
      x.dispose();
      for (const p of model.parameters()) p.dispose();
    },
  };
}

export function mlpTfjs(tf: TF, { B, D, H, O }: MlpShape): PeerWork {
  const v = (shape: number[]) => tf.variable(tf.randomNormal(shape, 0, 0.05));
  const ws = [v([D, H]), v([H]), v([H, H]), v([H]), v([H, O]), v([O])];
  const labels = Array.from({ length: B }, (_, i) => i % O);
  const tx = tf.randomNormal([B, D]);
  const ty = tf.oneHot(tf.tensor1d(labels, 'int32'), O);
  const o = tf.train.momentum(0.01, 0.9);
  const loss = () => {
    const h1 = tf.relu(tf.add(tf.matMul(tx, ws[0]), ws[1]));
    const h2 = tf.relu(tf.add(tf.matMul(h1, ws[2]), ws[3]));
    return tf.losses.softmaxCrossEntropy(ty, tf.add(tf.matMul(h2, ws[4]), ws[5])) as import('@tensorflow/tfjs-core').Scalar;
  };
  return {
    step: () => void o.minimize(loss),
    dispose: () => {
      tf.dispose([...ws, tx, ty]);
      o.dispose();
    },
  };
}

// ---- MoCo training step of the CLI's default config ----------------------------------------------

/** The CLI modules that build the MoCo model; loaded on demand (a harness reports it when they fail). */
export async function mocoModules() {
  const [train, args, augment] = await Promise.all([
    import('../src/cli/train.ts'),
    import('../src/cli/args.ts'),
    import('../src/data/augment.ts'),
  ]);
  return { train, args, augment };
}
export type MocoModules = Awaited<ReturnType<typeof mocoModules>>;

/**
 * The CLI's default MoCo config (`size` overrides batch, width, K), its model and SGD, and one
 * training step on a random grayscale 28×28 batch: augment both views on the GPU (the train CLI's
 * v2 augmentation for such sets: crop, flip, jitter; no blur), forward, key encoder, InfoNCE,
 * backward, SGD. `peer` is the same config for bench/peers/moco-tfjs.ts.
 */
export function mocoWgrad(mods: MocoModules, size: { batch?: number; width?: number; K?: number } = {}) {
  const defaults = mods.args.parseArgs([], mods.train.TRAIN_OPTIONS, 'bench');
  const cfg = { ...defaults, ...Object.fromEntries(Object.entries(size).filter(([, v]) => v !== undefined)) } as typeof defaults;
  const B = cfg.batch;
  const encoder = mods.train.buildEncoder(cfg, 1);
  const model = mods.train.buildModel(cfg, encoder);
  const opt = new optim.SGD(model.parameters(), { lr: cfg.lr, momentum: 0.9, weightDecay: cfg.wd });
  model.train();
  const x = keep(rand([B, 1, 28, 28]));
  const aug = { jitter: { p: 0.8 }, grayscale: false, blur: false } as const;
  const step = () => {
    const [xq, xk] = mods.augment.twoViews(x, aug);
    const out = model.step(xq, xk);
    out.loss.backward();
    opt.step();
    opt.zeroGrad();
  };
  const { width, K, dim, m, T, lr, wd, bnSplits } = cfg;
  const peer: MocoPeerConfig = { batch: B, width, K, dim, m, T, lr, wd, bnSplits };
  return {
    cfg,
    B,
    aug,
    step,
    peer,
    dispose: () => {
      x.dispose();
      for (const p of model.parameters()) p.dispose();
    },
  };
}
