// A contrastive training run as safetensors contents, without the file system, so that the CLI
// (src/cli/checkpoint.ts: file, atomic write, config check) and the page of `npm run web` (a
// download) write and read one format: the method's state (MoCo: query and key encoders, queue
// with its pointer, …), the optimizer's buffers, and in the metadata the epoch, the records so far,
// the config and every random generator's state.

import { Tensor } from '../tensor.ts';
import { encodeTensors } from '../io/checkpoint.ts';
import type { Generator } from '../random.ts';
import type { Optimizer, OptimizerStateDict } from '../optim/optimizer.ts';
import type { ContrastiveMethod, MethodState } from './method.ts';

export const MOCO_RUN_FORMAT = 'wgrad-moco-checkpoint/1';

export interface Generators { dataGen: Generator; augGen: Generator; defaultGen: Generator }

export interface RunMeta { epoch: number; records: unknown[]; baselines: Record<string, number>; config: unknown }

/** The safetensors bytes of a run (see the file comment for what it holds). */
export async function encodeMocoRun(model: ContrastiveMethod, opt: Optimizer<any>, gens: Generators, meta: RunMeta): Promise<Uint8Array> {
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
  return encodeTensors(tensors, {
    format: MOCO_RUN_FORMAT,
    epoch: String(meta.epoch),
    methodNumbers: JSON.stringify(state.numbers),
    records: JSON.stringify(meta.records),
    baselines: JSON.stringify(meta.baselines),
    config: JSON.stringify(meta.config),
    optimizerGroups: JSON.stringify(sd.paramGroups),
    optimizerNumbers: JSON.stringify(optNumbers),
    rng: JSON.stringify({ data: gens.dataGen.getState(), aug: gens.augGen.getState(), default: gens.defaultGen.getState() }),
  });
}

/** The method state of a run's tensors and metadata (checkpoints from before --method kept only the queue pointer). */
export function methodState(tensors: Record<string, Tensor>, metadata: Record<string, string>): MethodState {
  const numbers = metadata.methodNumbers ? JSON.parse(metadata.methodNumbers) : { queuePtr: Number(metadata.queuePtr) };
  const own = Object.fromEntries(Object.entries(tensors).filter(([k]) => !k.startsWith('optimizer.')));
  return { tensors: own, numbers };
}

/**
 * A checkpoint of `wgrad-moco train` (the library's format, src/cli/checkpoint.ts: the method's
 * state under extra.*, counters in moco.numbers) under this page's names and keys.
 */
function fromRunFormat(tensors: Record<string, Tensor>, m: Record<string, string>): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const opt = JSON.parse(m['wgrad.optimizer']) as { paramGroups: unknown; scalars: Record<string, Record<string, number>> };
  const metadata: Record<string, string> = {
    format: MOCO_RUN_FORMAT, epoch: m['wgrad.epoch'], config: m['wgrad.config'], rng: m['wgrad.rng'], records: m['moco.records'],
    baselines: m['moco.baselines'], methodNumbers: m['moco.numbers'], optimizerGroups: JSON.stringify(opt.paramGroups),
    optimizerNumbers: JSON.stringify(Object.fromEntries(Object.entries(opt.scalars).filter(([, v]) => Object.keys(v).length > 0))),
  };
  const renamed: Record<string, Tensor> = Object.create(null);
  for (const [k, t] of Object.entries(tensors)) renamed[k.startsWith('extra.') ? k.slice(6) : k] = t;
  return { tensors: renamed, metadata };
}

/** Loads decoded run tensors and metadata into a model and optimizer built with the run's config. */
export function restoreMocoRun(tensors: Record<string, Tensor>, metadata: Record<string, string>, source: string, model: ContrastiveMethod, opt: Optimizer<any>, gens: Generators): { epoch: number; records: any[]; baselines: Record<string, number> } {
  if (metadata['moco.format'] === 'wgrad-moco-run/2') ({ tensors, metadata } = fromRunFormat(tensors, metadata));
  if (metadata.format !== MOCO_RUN_FORMAT) throw new Error(`${source} is not a wgrad-moco checkpoint (format '${metadata.format ?? 'none'}')`);
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
