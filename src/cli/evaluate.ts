// `wgrad-moco evaluate --out DIR`: loads the checkpoint a training run wrote and reports the kNN
// monitor and the linear probe of its query backbone, with both baselines beside them.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { init } from '../runtime.ts';
import { manualSeed } from '../random.ts';
import { SGD } from '../optim/sgd.ts';
import { knnAccuracy } from '../moco/knn.ts';
import { parseArgs, type OptionSpec } from './args.ts';
import { readMocoCheckpoint, checkMocoTensors, restoreMethod } from './checkpoint.ts';
import { fullSetEvaluation } from './full-eval.ts';
import {
  TRAIN_OPTIONS,
  buildEncoder,
  buildModel,
  epochLr,
  extractFeatures,
  loadData,
  rawPixelKnn,
  runProbe,
  type TrainConfig,
} from './train.ts';

export const EVALUATE_OPTIONS = {
  out: { type: 'string', default: 'runs/moco', help: 'directory of the training run (holds checkpoint.safetensors)' },
  probeEpochs: { type: 'int', default: 100, min: 0, help: 'linear-probe epochs (0 = kNN only)' },
  probeLr: { type: 'float', default: 0.1, min: 0, help: 'linear-probe learning rate (features are standardised first)' },
  testSize: { type: 'int', default: -1, min: -1, help: 'test images (-1 = as in training, 0 = all)' },
  dataDir: {
    type: 'string',
    default: '',
    help: "dataset directory (default: the dataset's standard location; never the path stored in the checkpoint)",
  },
  fullSets: {
    type: 'bool',
    default: false,
    help: 'also the final full-set evaluation of train (all training images as the kNN bank, all test images as queries; the linear probe on them unless --probe-epochs 0), both baselines the same way',
  },
} satisfies Record<string, OptionSpec>;

export async function evaluate(argv: string[]): Promise<Record<string, number>> {
  const opts = parseArgs(argv, EVALUATE_OPTIONS, 'wgrad-moco evaluate');
  const file = path.join(opts.out, 'checkpoint.safetensors');
  if (!fs.existsSync(file))
    throw new Error(`wgrad-moco evaluate: no checkpoint at ${file}; train first (wgrad-moco train --out ${opts.out})`);
  // The file is checked (config by the train options' rules, tensors finite) before anything is built.
  const saved = await readMocoCheckpoint(file, TRAIN_OPTIONS);
  const cfg = { ...saved.config } as TrainConfig;
  if (opts.testSize >= 0) cfg.testSize = opts.testSize;
  cfg.dataDir = opts.dataDir;
  const info = await init();
  console.log(`wgrad-moco evaluate on ${info.backend}`);
  manualSeed(cfg.seed);
  const { trainSet, testSet } = loadData(cfg);
  // The random encoder is the first draw after the seed, as in train, so the baseline is the same.
  const random = buildEncoder(cfg, trainSet.channels);
  const model = buildModel(cfg, buildEncoder(cfg, trainSet.channels), trainSet.count);
  checkMocoTensors(saved, model, new SGD(model.parameters(), { lr: cfg.lr, momentum: 0.9, weightDecay: cfg.wd }), {
    lr: epochLr(cfg, saved.epoch - 1),
    numbers: null,
  });
  restoreMethod(saved, model);
  const results: Record<string, number> = {};
  const knn = async (tr: ReturnType<typeof extractFeatures>, te: ReturnType<typeof extractFeatures>) => {
    const acc = await knnAccuracy(tr, trainSet.labels, te, testSet.labels, { k: cfg.knnK, t: cfg.knnT });
    tr.dispose();
    te.dispose();
    return acc;
  };
  results.rawPixelsKnn = await rawPixelKnn(trainSet, testSet, cfg);
  results.randomEncoderKnn = await knn(extractFeatures(random, trainSet), extractFeatures(random, testSet));
  results.knn = await knn(extractFeatures(model.backbone, trainSet), extractFeatures(model.backbone, testSet));
  console.log(
    `kNN top-1 (k=${cfg.knnK}, t=${cfg.knnT}): ${cfg.method ?? 'moco'} ${results.knn.toFixed(2)}%   raw pixels ${results.rawPixelsKnn.toFixed(2)}%   random encoder ${results.randomEncoderKnn.toFixed(2)}%`,
  );
  if (opts.probeEpochs > 0)
    results.linearProbe = await runProbe(model.backbone, trainSet, testSet, {
      probeEpochs: opts.probeEpochs,
      probeLr: opts.probeLr,
      seed: cfg.seed,
    });
  if (opts.fullSets) {
    const full = await fullSetEvaluation(model.backbone, random, {
      ...cfg,
      probeEpochs: opts.probeEpochs,
      probeLr: opts.probeLr,
      finalProbe: true,
    });
    for (const [k, v] of Object.entries(full)) results[`fullSets.${k}`] = v;
  }
  const written = path.join(opts.out, 'evaluation.json');
  fs.writeFileSync(written, JSON.stringify({ checkpointEpoch: saved.epoch, ...results }, null, 2));
  console.log(`results written to ${written}`);
  return results;
}
