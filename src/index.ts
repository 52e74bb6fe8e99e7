// wgrad's public API. `await init()` once, then build tensors and differentiate:
//
//   import { init, tensor } from 'wgrad';
//   await init();
//   const x = tensor([[1, 2], [3, 4]], undefined, { requiresGrad: true });
//   x.matmul(x).sum().backward();
//   console.log(await x.grad!.toArray());

export { init, shutdown, deviceInfo, stats, sync, profile, formatProfile, type InitOptions, type ProfileRow } from './runtime.ts';
export type { DeviceInfo, Counters } from './device/device.ts';
export { registerKernelSource } from './device/kernel-sources.ts';
export { UniformLayout } from './device/uniform-layout.ts';
export { capture, CapturedStep, type CaptureOptions } from './device/capture.ts';
export { Tensor } from './tensor.ts';
export { tidy, keep } from './scope.ts';
export { manualSeed, Generator, defaultGenerator } from './random.ts';
export { tensor, zeros, ones, full, zerosLike, onesLike, rand, randn, arange, eye, linspace, randint, randperm } from './creation.ts';
export type { DType } from './dtype.ts';
export { noGrad, isGradEnabled } from './autograd/graph.ts';
export { setAnomalyDetection, isAnomalyDetectionEnabled } from './autograd/anomaly.ts';
export { gradcheck, type GradcheckResult } from './autograd/gradcheck.ts';
export {
  add,
  sub,
  mul,
  div,
  pow,
  maximum,
  minimum,
  gt,
  lt,
  ge,
  le,
  eq,
  where,
  neg,
  exp,
  log,
  sqrt,
  abs,
  relu,
  sigmoid,
  tanh,
  square,
  reciprocal,
  gelu,
  silu,
  leakyRelu,
  elu,
  softplus,
  clamp,
} from './ops/elementwise.ts';
export { fuse } from './ops/fuse.ts';
export { sum, mean, max, min, variance, argmax, argmin, logsumexp } from './ops/reduce.ts';
export { sort, argsort, topk } from './ops/sort.ts';
export { scatterAdd, embedding, oneHot } from './ops/indexing.ts';
export {
  reshape,
  permute,
  transpose,
  expand,
  squeeze,
  unsqueeze,
  flatten,
  contiguous,
  clone,
  slice,
  concat,
  cat,
  stack,
  indexSelect,
  gather,
} from './ops/shape.ts';
export { matmul } from './ops/matmul.ts';
export { batchNorm, normalize, type BatchNormOptions } from './ops/norm.ts';
export { softmax, logSoftmax } from './ops/softmax.ts';
export { crossEntropy, nllLoss, type Reduction } from './ops/loss.ts';
export { mseLoss, l1Loss, smoothL1Loss, binaryCrossEntropyWithLogits, klDiv } from './ops/regression-loss.ts';
export { linear, dropout } from './ops/linear.ts';
export { layerNorm, std, scaledDotProductAttention, type AttentionOptions } from './ops/attention.ts';
export { flip, repeat, split, chunk, pad, cumsum } from './ops/rearrange.ts';
export {
  augment,
  augmentWithParams,
  twoViews,
  sampleAugmentParams,
  resolveAugment,
  IDENTITY_AUGMENT,
  type AugmentConfig,
  type AugmentImageParams,
  type ResolvedAugment,
} from './data/augment.ts';
export { BatchLoader, type BatchLoaderOptions, type Batch } from './data/loader.ts';
export { TensorDataset, DataLoader, type DataLoaderOptions, type Column, type HostArray } from './data/dataloader.ts';
export { subset, toFloat, type ImageDataset } from './data/dataset.ts';
export { parseIdx, encodeIdx, type IdxArray } from './data/idx.ts';
export { parseCifar10Batch, type Cifar10Batch } from './data/cifar.ts';
export { conv2d, type Conv2dOptions, type Pair } from './ops/conv.ts';
export { maxPool2d, avgPool2d, adaptiveAvgPool2d, type Pool2dOptions } from './ops/pool.ts';
export * as nn from './nn/index.ts';
export * as optim from './optim/index.ts';
export {
  saveSafetensors,
  loadSafetensors,
  saveCheckpoint,
  loadCheckpoint,
  encodeTensors,
  decodeTensors,
  readTensors,
  checkpointContents,
  restoreCheckpoint,
  type CheckpointState,
  type RestoreTargets,
  type LoadedCheckpoint,
} from './io/checkpoint.ts';
export { KeyQueue } from './moco/queue.ts';
export { MemoryBank } from './moco/memory-bank.ts';
export { infoNCE, ntXent, dcl, type ContrastiveOutput } from './moco/losses.ts';
export { MomentumEncoder, cloneModule, momentumAt } from './moco/momentum.ts';
export { MoCo, type MoCoOptions, type StepOutput, type LossKind, type Mechanism } from './moco/moco.ts';
export { knnAccuracy, type KnnOptions } from './moco/knn.ts';
export { linearProbe, type ProbeOptions } from './moco/probe.ts';
export { NNCLR, type NNCLROptions } from './moco/nnclr.ts';
export { SupportSet } from './moco/support-set.ts';
export { MoCoV3, type MoCoV3Options } from './moco/mocov3.ts';
export { mlpHead } from './moco/heads.ts';
export type { ContrastiveMethod, MethodState } from './moco/method.ts';

// MoCo runs of `wgrad-moco train` (Node only: imported when called, so browsers never load them).
export type { MoCoRun } from './cli/run.ts';
/**
 * Trains as `wgrad-moco train` does, in this process (same options as the command line; Node only).
 * @example
 * await trainMoCo(['--train-size', '128', '--test-size', '50', '--epochs', '1', '--batch', '32', '--K', '64',
 *   '--width', '4', '--dim', '16', '--no-baselines', '--probe-epochs', '0', '--out', '/tmp/wgrad-moco-example']);
 */
export async function trainMoCo(argv: string[]): Promise<import('./cli/train.ts').TrainResult> {
  return (await import('./cli/train.ts')).train(argv);
}
/**
 * A trained MoCo backbone back from a `wgrad-moco train` run, in one call: `dir` is the run's --out
 * (its checkpoint is checked first: config, tensor names, shapes, finite values). Returns the
 * backbone (eval mode), the config, the input layout and scaling (pixels / 255) and embed(images).
 * Node only.
 * @example
 * await trainMoCo(['--train-size', '128', '--test-size', '50', '--epochs', '1', '--batch', '32', '--K', '64',
 *   '--width', '4', '--dim', '16', '--no-baselines', '--probe-epochs', '0', '--out', '/tmp/wgrad-moco-example']);
 * const run = await loadMoCoRun('/tmp/wgrad-moco-example');
 * const features = run.embed(new Uint8Array(2 * 28 * 28)); // two blank 28×28 images → [2, run.backbone.featureDim]
 */
export async function loadMoCoRun(dir: string): Promise<import('./cli/run.ts').MoCoRun> {
  return (await import('./cli/run.ts')).loadMoCoRun(dir);
}
