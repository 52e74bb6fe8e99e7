// A finished (or interrupted) `wgrad-moco train` run as a library object: loadMoCoRun(dir) reads
// the run's checkpoint (checked as --resume checks it), rebuilds the query backbone its config
// describes, loads the trained weights and hands back the backbone, the config, the input layout
// and scaling (pixels / 255, as the trainer feeds them) and an embed() that applies all of it.
// Exported from the package root as loadMoCoRun (imported lazily: Node only).

import * as path from 'node:path';
import * as fs from 'node:fs';
import { init } from '../runtime.ts';
import { Tensor } from '../tensor.ts';
import { tidy } from '../scope.ts';
import { noGrad } from '../autograd/graph.ts';
import { fromArray } from '../ops/creation-internal.ts';
import { fmt } from '../shape.ts';
import { SGD } from '../optim/sgd.ts';
import type * as nn from '../nn/index.ts';
import { checkMocoTensors, readMocoCheckpoint, restoreMethod } from './checkpoint.ts';
import { TRAIN_OPTIONS, buildEncoder, buildModel, epochLr, type EpochRecord, type TrainConfig } from './train.ts';

/** Image layout of each dataset the trainer knows: [channels, height, width]. */
const INPUT_SHAPES: Record<string, [number, number, number]> = { 'fashion-mnist': [1, 28, 28], mnist: [1, 28, 28], cifar10: [3, 32, 32] };

/** What loadMoCoRun returns. */
export interface MoCoRun {
  /** The trained query backbone, in eval mode: images [N, C, H, W] → features [N, featureDim]. */
  backbone: nn.Module & { featureDim: number };
  /** The run's configuration (the options of `wgrad-moco train`). */
  config: TrainConfig;
  /** Epochs trained when the checkpoint was written, and their log records. */
  epoch: number;
  records: EpochRecord[];
  /** What the backbone expects: images of channels × height × width, pixel values divided by `scale` (255). */
  input: { channels: number; height: number; width: number; scale: number };
  /**
   * Backbone features [N, featureDim] of N images, row-major N×C×H×W: raw pixel values 0–255 as a
   * Uint8Array or Float32Array (scaled by 1/255 here, as in training), or a tensor already scaled.
   */
  embed(images: Uint8Array | Float32Array | Tensor): Tensor;
}

/**
 * Loads a `wgrad-moco train` run: `dir` is its --out directory (or the checkpoint file itself).
 * The checkpoint is checked first (config, tensor names, shapes, finite values); errors name the
 * file and the key.
 */
export async function loadMoCoRun(dir: string): Promise<MoCoRun> {
  const file = dir.endsWith('.safetensors') ? dir : path.join(dir, 'checkpoint.safetensors');
  if (!fs.existsSync(file)) throw new Error(`loadMoCoRun: no checkpoint at ${file}; pass the --out directory of a wgrad-moco train run`);
  const saved = await readMocoCheckpoint(file, TRAIN_OPTIONS);
  const config = saved.config as TrainConfig;
  const [channels, height, width] = INPUT_SHAPES[config.dataset];
  await init();
  // The whole method of the config is built and every tensor compared with it (names, shapes, the
  // digest) before the file's values are uploaded; the backbone is then the trained one.
  const bank = saved.tensors['extra.memoryBank'];
  const method = buildModel(config, buildEncoder(config, channels), bank ? bank.shape[0] : undefined);
  const opt = new SGD(method.parameters(), { lr: config.lr, momentum: 0.9, weightDecay: config.wd });
  checkMocoTensors(saved, method, opt, { lr: epochLr(config, saved.epoch - 1), numbers: null });
  restoreMethod(saved, method);
  const backbone = method.backbone as nn.Module & { featureDim: number };
  backbone.eval();
  const size = channels * height * width;
  const embed = (images: Uint8Array | Float32Array | Tensor): Tensor => {
    let x: Tensor;
    if (images instanceof Tensor) {
      if (images.ndim !== 4 || images.shape[1] !== channels || images.shape[2] !== height || images.shape[3] !== width) {
        throw new Error(`MoCoRun.embed: images must be [N, ${channels}, ${height}, ${width}] (got ${fmt(images.shape)})`);
      }
      x = images;
    } else {
      if (images.length === 0 || images.length % size !== 0) {
        throw new Error(
          `MoCoRun.embed: ${images.length} values are not a whole number of ${channels}×${height}×${width} images (${size} values each)`,
        );
      }
      const scaled = new Float32Array(images.length);
      for (let i = 0; i < images.length; i++) scaled[i] = images[i] / 255; // as toFloat() in training
      x = fromArray(scaled, [images.length / size, channels, height, width]);
    }
    const features = noGrad(() => tidy(() => backbone.forward(x)));
    if (x !== images) x.dispose();
    return features;
  };
  return {
    backbone,
    config,
    epoch: saved.epoch,
    records: saved.records as EpochRecord[],
    input: { channels, height, width, scale: 255 },
    embed,
  };
}
