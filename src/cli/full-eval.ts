// The final evaluation on the full sets: the subset monitor of `wgrad-moco train` (default 8,000
// training images as the kNN bank, 2,000 test images as queries) is cheap enough to run every
// epoch but flatters small gains, so every run ends with the same protocol on all the images —
// every training image in the kNN bank, every test image a query, the linear probe trained on all
// training features — for the trained backbone and for both baselines (raw pixels, the randomly
// initialised encoder the run started from), computed the same way. With --no-baselines only the
// trained backbone is measured (the baselines of one seed are the same for every method).

import { loadDataset } from '../data/node-files.ts';
import type { ImageDataset } from '../data/dataset.ts';
import type { Module } from '../nn/module.ts';
import { knnAccuracy } from '../moco/knn.ts';
import { fmtTime } from './progress.ts';
import { extractFeatures, rawPixelKnn, runProbe, type TrainConfig } from './train.ts';

/** What the full-set evaluation measured (kNN and probe top-1 in percent). */
export interface FullSetResult {
  trainImages: number;
  testImages: number;
  knn: number;
  /** Baselines, absent when the evaluation ran without them (--no-baselines). */
  rawPixels?: number;
  randomEncoder?: number;
  /** Linear probe of the trained backbone on the full sets (with --final-probe). */
  linearProbe?: number;
  /** Linear probe of the random encoder on the full sets, the probe's baseline. */
  randomEncoderProbe?: number;
  seconds: number;
}

/** The full train and test sets of the config's dataset. */
export function loadFullData(cfg: TrainConfig): { trainSet: ImageDataset; testSet: ImageDataset } {
  const opts = (split: 'train' | 'test') => ({ split, ...(cfg.dataDir ? { dir: cfg.dataDir } : {}) });
  return { trainSet: loadDataset(cfg.dataset, opts('train')), testSet: loadDataset(cfg.dataset, opts('test')) };
}

async function backboneKnn(backbone: Module, trainSet: ImageDataset, testSet: ImageDataset, cfg: TrainConfig): Promise<number> {
  const [fTr, fTe] = [extractFeatures(backbone, trainSet), extractFeatures(backbone, testSet)];
  try {
    return await knnAccuracy(fTr, trainSet.labels, fTe, testSet.labels, { k: cfg.knnK, t: cfg.knnT });
  } finally {
    fTr.dispose();
    fTe.dispose();
  }
}

/**
 * kNN (and with --final-probe the linear probe) of the trained backbone and of the random
 * encoder on the full sets, with the raw-pixel kNN beside them; `randomEncoder` null: the trained
 * backbone only, no baselines.
 */
export async function fullSetEvaluation(backbone: Module, randomEncoder: Module | null, cfg: TrainConfig): Promise<FullSetResult> {
  const t0 = Date.now();
  const { trainSet, testSet } = loadFullData(cfg);
  const probeCfg = { probeEpochs: cfg.probeEpochs, probeLr: cfg.probeLr, seed: cfg.seed };
  const r: FullSetResult = {
    trainImages: trainSet.count,
    testImages: testSet.count,
    knn: await backboneKnn(backbone, trainSet, testSet, cfg),
    seconds: 0,
  };
  if (randomEncoder) {
    r.rawPixels = await rawPixelKnn(trainSet, testSet, cfg);
    r.randomEncoder = await backboneKnn(randomEncoder, trainSet, testSet, cfg);
  }
  if (cfg.finalProbe && cfg.probeEpochs > 0) {
    r.linearProbe = await runProbe(backbone, trainSet, testSet, probeCfg);
    if (randomEncoder) r.randomEncoderProbe = await runProbe(randomEncoder, trainSet, testSet, probeCfg);
  }
  r.seconds = (Date.now() - t0) / 1000;
  const beside = (v: number | undefined, what: string) => (v === undefined ? '' : ` (${what} ${v.toFixed(2)}%)`);
  const baselines = randomEncoder ? ` (raw pixels ${r.rawPixels!.toFixed(2)}%, random encoder ${r.randomEncoder!.toFixed(2)}%)` : '';
  console.log(
    `full sets (${r.trainImages} train / ${r.testImages} test images, ${fmtTime(r.seconds)}): kNN top-1 ${r.knn.toFixed(2)}%${baselines}` +
      (r.linearProbe !== undefined ? `, linear probe ${r.linearProbe.toFixed(2)}%${beside(r.randomEncoderProbe, 'random encoder')}` : ''),
  );
  return r;
}
