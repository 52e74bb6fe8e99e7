// The training checkpoint: one safetensors file holding the method's state (MoCo: query encoder
// (+ head), key encoder, queue with its pointer, memory bank with --mechanism memory-bank; NNCLR:
// network and support set with pointer and fill count; MoCo v3: both encoders), the optimizer's
// momentum buffers, and in the metadata the epoch, the log so far, the config and every random
// generator's state — enough for --resume to continue exactly as if training had not stopped.
// Written atomically (temp file + rename).
//
// Test hook: WGRAD_TEST_CRASH_BEFORE_RENAME=<epoch> makes the process kill itself (SIGKILL, no
// cleanup) after the temp file of that epoch's checkpoint is written and before the rename, the
// worst moment for a crash; test/reliability/crash.test.ts checks the previous checkpoint survives.

import { loadSafetensors } from '../io/checkpoint.ts';
import { encodeMocoRun, restoreMocoRun, type Generators } from '../moco/run-file.ts';
import { writeFileAtomic } from '../io/node-files.ts';
import { kebab } from './args.ts';
import { readdirSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Optimizer } from '../optim/optimizer.ts';
import type { ContrastiveMethod } from '../moco/method.ts';

export { methodState, type Generators } from '../moco/run-file.ts';

export async function saveMocoCheckpoint(path: string, model: ContrastiveMethod, opt: Optimizer<any>, gens: Generators, meta: { epoch: number; records: unknown[]; baselines: Record<string, number>; config: unknown }): Promise<void> {
  const bytes = await encodeMocoRun(model, opt, gens, meta);
  const crashAt = process.env.WGRAD_TEST_CRASH_BEFORE_RENAME;
  await writeFileAtomic(path, bytes, {
    beforeRename: crashAt === String(meta.epoch) ? () => { process.kill(process.pid, 'SIGKILL'); return new Promise<void>(() => {}); } : undefined,
  });
  // Temp files of runs that were killed mid-write are garbage now that a newer checkpoint exists.
  const stale = `${basename(path)}.tmp-`;
  for (const f of readdirSync(dirname(path))) if (f.startsWith(stale)) unlinkSync(join(dirname(path), f));
}

export async function loadMocoCheckpoint(path: string, model: ContrastiveMethod, opt: Optimizer<any>, gens: Generators, config: Record<string, unknown>): Promise<{ epoch: number; records: any[]; baselines: Record<string, number> }> {
  const { tensors, metadata } = await loadSafetensors(path);
  if (metadata.format !== 'wgrad-moco-checkpoint/1') throw new Error(`${path} is not a wgrad-moco checkpoint (format '${metadata.format ?? 'none'}')`);
  const saved = JSON.parse(metadata.config) as Record<string, unknown>;
  saved.mechanism ??= 'queue'; // checkpoints from before --mechanism
  saved.method ??= 'moco'; // checkpoints from before --method and its options
  saved.supportSetSize ??= 4096;
  saved.predictionHeadWidth ??= 0;
  saved.mlpDim ??= 0;
  saved.cropMin ??= 0.2; // checkpoints from before --crop-min (crops were 20–100%)
  const mismatched = ['dataset', 'encoder', 'width', 'dim', 'K', 'mlp', 'batch', 'trainSize', 'shuffleBn', 'bnSplits', 'seed', 'epochs', 'mechanism', 'aug', 'cropMin', 'method', 'supportSetSize', 'predictionHeadWidth', 'mlpDim']
    .filter((k) => saved[k] !== config[k]).map((k) => `--${kebab(k)}: checkpoint ${JSON.stringify(saved[k])}, now ${JSON.stringify(config[k])}`);
  if (mismatched.length) throw new Error(`--resume: the checkpoint was written with a different configuration:\n  ${mismatched.join('\n  ')}\nResume with the original options or start a new --out directory.`);
  return restoreMocoRun(tensors, metadata, path, model, opt, gens);
}
