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

import { encodeTensors, loadSafetensors } from '../io/checkpoint.ts';
import { writeFileAtomic } from '../io/node-files.ts';
import { kebab } from './args.ts';
import { readdirSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Tensor } from '../tensor.ts';
import type { Generator } from '../random.ts';
import type { Optimizer, OptimizerStateDict } from '../optim/optimizer.ts';
import type { ContrastiveMethod, MethodState } from '../moco/method.ts';

export interface Generators { dataGen: Generator; augGen: Generator; defaultGen: Generator }

export async function saveMocoCheckpoint(path: string, model: ContrastiveMethod, opt: Optimizer<any>, gens: Generators, meta: { epoch: number; records: unknown[]; baselines: Record<string, number>; config: unknown }): Promise<void> {
  const state = model.state();
  const tensors: Record<string, Tensor> = { ...state.tensors };
  const sd = opt.stateDict();
  const optNumbers: Record<string, Record<string, number>> = {};
  for (const [i, st] of Object.entries(sd.state)) {
    for (const [k, v] of Object.entries(st)) {
      if (v instanceof Tensor) tensors[`optimizer.${i}.${k}`] = v;
      else (optNumbers[i] ??= {})[k] = v;
    }
  }
  const bytes = await encodeTensors(tensors, {
    format: 'wgrad-moco-checkpoint/1',
    epoch: String(meta.epoch),
    methodNumbers: JSON.stringify(state.numbers),
    records: JSON.stringify(meta.records),
    baselines: JSON.stringify(meta.baselines),
    config: JSON.stringify(meta.config),
    optimizerGroups: JSON.stringify(sd.paramGroups),
    optimizerNumbers: JSON.stringify(optNumbers),
    rng: JSON.stringify({ data: gens.dataGen.getState(), aug: gens.augGen.getState(), default: gens.defaultGen.getState() }),
  });
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
  const pick = (prefix: string) => Object.fromEntries(Object.entries(tensors).filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]));
  model.loadState(methodState(tensors, metadata));
  const numbers = JSON.parse(metadata.optimizerNumbers) as Record<string, Record<string, number>>;
  const state: OptimizerStateDict['state'] = {};
  for (const [k, t] of Object.entries(pick('optimizer.'))) {
    const [i, name] = k.split('.');
    (state[Number(i)] ??= {})[name] = t;
  }
  for (const [i, nums] of Object.entries(numbers)) Object.assign((state[Number(i)] ??= {}), nums);
  opt.loadStateDict({ state, paramGroups: JSON.parse(metadata.optimizerGroups) });
  const rng = JSON.parse(metadata.rng);
  gens.dataGen.setState(rng.data);
  gens.augGen.setState(rng.aug);
  gens.defaultGen.setState(rng.default);
  return { epoch: Number(metadata.epoch), records: JSON.parse(metadata.records), baselines: JSON.parse(metadata.baselines) };
}

/** The method state of a checkpoint's tensors and metadata (checkpoints from before --method kept only the queue pointer). */
export function methodState(tensors: Record<string, Tensor>, metadata: Record<string, string>): MethodState {
  const numbers = metadata.methodNumbers ? JSON.parse(metadata.methodNumbers) : { queuePtr: Number(metadata.queuePtr) };
  const own = Object.fromEntries(Object.entries(tensors).filter(([k]) => !k.startsWith('optimizer.')));
  return { tensors: own, numbers };
}
