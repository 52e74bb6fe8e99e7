// A contrastive training run as safetensors contents, without the file system, so that the CLI
// (src/cli/checkpoint.ts: file, atomic write, checks) and the page of `npm run web` (a download)
// write one format, RUN_FORMAT: the library's checkpoint layout (src/io/checkpoint.ts) with the
// method's state (MoCo: query and key encoders, queue, …) under extra.*, its counters, records and
// baselines in moco.* metadata, every random generator's state, and a SHA-256 of the contents.

import { Tensor } from '../tensor.ts';
import { checkpointContents, nameTable, readTensors } from '../io/checkpoint.ts';
import { encodeSafetensors, type TensorData } from '../io/safetensors.ts';
import { Sha256 } from '../io/sha256.ts';
import type { Generator } from '../random.ts';
import type { Optimizer, OptimizerStateDict } from '../optim/optimizer.ts';
import type { ContrastiveMethod, MethodState } from './method.ts';

/** The format every run is written in (metadata "moco.format"). */
export const RUN_FORMAT = 'wgrad-moco-run/2';
/** The first format (flat names, metadata "format"): still read, no longer written. */
export const MOCO_RUN_FORMAT = 'wgrad-moco-checkpoint/1';

export interface Generators {
  dataGen: Generator;
  augGen: Generator;
  defaultGen: Generator;
}

export interface RunMeta {
  epoch: number;
  records: unknown[];
  baselines: Record<string, number>;
  config: unknown;
}

/**
 * SHA-256 of a run's contents (tensor names, shapes, bytes; the metadata but the digest itself):
 * the reader's last check, so that a value changed after the write is refused, not resumed from.
 */
export function runDigest(
  tensors: Record<string, { data: Float32Array | Int32Array; shape: readonly number[] }>,
  metadata: Record<string, string>,
): string {
  const h = new Sha256();
  for (const name of Object.keys(tensors).sort()) {
    const t = tensors[name];
    h.update(JSON.stringify([name, t.shape]));
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  for (const key of Object.keys(metadata).sort()) if (key !== 'moco.digest') h.update(JSON.stringify([key, metadata[key]]));
  return h.hex();
}

/** The safetensors bytes of a run in RUN_FORMAT (see the file comment for what it holds). */
export async function encodeMocoRun(model: ContrastiveMethod, opt: Optimizer<any>, gens: Generators, meta: RunMeta): Promise<Uint8Array> {
  const state = model.state();
  const extra = nameTable<Tensor>();
  for (const [k, t] of Object.entries(state.tensors)) extra[k] = t;
  const { tensors, metadata } = checkpointContents({
    optimizer: opt,
    tensors: extra,
    epoch: meta.epoch,
    config: meta.config,
    generators: { data: gens.dataGen, aug: gens.augGen, default: gens.defaultGen },
    metadata: {
      'moco.format': RUN_FORMAT,
      'moco.numbers': JSON.stringify(state.numbers),
      'moco.records': JSON.stringify(meta.records),
      'moco.baselines': JSON.stringify(meta.baselines),
    },
  });
  const names = Object.keys(tensors);
  const data = await readTensors(names.map((n) => tensors[n]));
  const host = nameTable<TensorData>();
  names.forEach((n, i) => (host[n] = { data: data[i], shape: [...tensors[n].shape] }));
  metadata['moco.digest'] = runDigest(host, metadata);
  return encodeSafetensors(host, metadata);
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
function fromRunFormat(
  tensors: Record<string, Tensor>,
  m: Record<string, string>,
): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const opt = JSON.parse(m['wgrad.optimizer']) as { paramGroups: unknown; scalars: Record<string, Record<string, number>> };
  const metadata: Record<string, string> = {
    format: MOCO_RUN_FORMAT,
    epoch: m['wgrad.epoch'],
    config: m['wgrad.config'],
    rng: m['wgrad.rng'],
    records: m['moco.records'],
    baselines: m['moco.baselines'],
    methodNumbers: m['moco.numbers'],
    optimizerGroups: JSON.stringify(opt.paramGroups),
    optimizerNumbers: JSON.stringify(Object.fromEntries(Object.entries(opt.scalars).filter(([, v]) => Object.keys(v).length > 0))),
  };
  const renamed: Record<string, Tensor> = Object.create(null);
  for (const [k, t] of Object.entries(tensors)) renamed[k.startsWith('extra.') ? k.slice(6) : k] = t;
  return { tensors: renamed, metadata };
}

/** Loads decoded run tensors and metadata into a model and optimizer built with the run's config. */
export function restoreMocoRun(
  tensors: Record<string, Tensor>,
  metadata: Record<string, string>,
  source: string,
  model: ContrastiveMethod,
  opt: Optimizer<any>,
  gens: Generators,
): { epoch: number; records: any[]; baselines: Record<string, number> } {
  if (metadata['moco.format'] === RUN_FORMAT) ({ tensors, metadata } = fromRunFormat(tensors, metadata));
  if (metadata.format !== MOCO_RUN_FORMAT)
    throw new Error(`${source} is not a wgrad-moco checkpoint (format '${metadata.format ?? 'none'}')`);
  const pick = (prefix: string) =>
    Object.fromEntries(
      Object.entries(tensors)
        .filter(([k]) => k.startsWith(prefix))
        .map(([k, t]) => [k.slice(prefix.length), t]),
    );
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
