// Tensor-level checkpoints on top of the safetensors codec: save and load named GPU tensors, and
// whole training states (model parameters and buffers, optimizer state with momentum buffers and
// step counts, scheduler, generator states, step/epoch/config) so that training resumes exactly
// where it stopped: same seed, same data order, bit-identical parameters.
//
// One checkpoint = one safetensors file (loads in Python with safetensors or a few lines of
// numpy), tensors named
//   model.<state dict key>          e.g. model.features.0.weight, model.features.1.running_mean
//   optimizer.<param index>.<name>  e.g. optimizer.3.momentumBuffer, optimizer.3.expAvg
//   extra.<name>                    any other tensors the caller passes (a MoCo queue, …)
// and the rest as JSON strings in the metadata under `wgrad.*` keys.
//
// The file functions import Node's fs only when called, so this module also loads in browsers,
// where encodeTensors / decodeTensors work on bytes.

import { Tensor } from '../tensor.ts';
import { noGrad } from '../autograd/graph.ts';
import { contiguous } from '../ops/shape.ts';
import { fromArray } from '../ops/creation-internal.ts';
import { defaultGenerator, type Generator } from '../random.ts';
import { decodeSafetensors, encodeSafetensors, type TensorData } from './safetensors.ts';
import type { Module } from '../nn/module.ts';
import type { Optimizer, OptimizerStateDict, ParamState } from '../optim/optimizer.ts';
import type { LRScheduler } from '../optim/schedules.ts';

/** An empty name → value table without a prototype: a tensor named "__proto__" stays an ordinary entry. */
export const nameTable = <T>(): Record<string, T> => Object.create(null) as Record<string, T>;

/** Largest batch of tensors read back in one copy (bytes). */
const READ_CHUNK_BYTES = 64 << 20;

/**
 * Copies tensors to the host with as few readbacks as possible: they are packed back to back into
 * one staging tensor on the GPU (one copy each), which is read once per 64 MiB.
 *
 * @example
 * const [a, b] = await readTensors([ones([2]), zeros([3])]); // Float32Array [1, 1], [0, 0, 0]
 */
export async function readTensors(tensors: Tensor[]): Promise<(Float32Array | Int32Array)[]> {
  const out: (Float32Array | Int32Array)[] = new Array(tensors.length);
  let i = 0;
  while (i < tensors.length) {
    let j = i;
    let total = 0;
    while (j < tensors.length && (j === i || (total + tensors[j].size) * 4 <= READ_CHUNK_BYTES)) total += tensors[j++].size;
    const batch = tensors.slice(i, j);
    if (total === 0) {
      batch.forEach((_, k) => (out[i + k] = new Float32Array(0)));
    } else {
      const staging = Tensor.empty([total], batch[0].device);
      let at = 0;
      for (const t of batch) {
        t.assertAlive('readTensors');
        const c = t.isContiguous ? t : noGrad(() => contiguous(t));
        if (c.size > 0) staging.device.copy(c.storage.buffer, c.offset * 4, staging.storage.buffer, at * 4, c.size * 4);
        if (c !== t) c.dispose();
        at += t.size;
      }
      const flat = await staging.toArray();
      staging.dispose();
      at = 0;
      batch.forEach((t, k) => {
        // The staging copy is bytes: an int32 tensor's are read back as int32.
        out[i + k] = t.dtype === 'int32' ? new Int32Array(flat.buffer, flat.byteOffset + at * 4, t.size) : flat.subarray(at, at + t.size);
        at += t.size;
      });
    }
    i = j;
  }
  return out;
}

async function toHost(tensors: Record<string, Tensor>): Promise<Record<string, TensorData>> {
  const names = Object.keys(tensors);
  for (const n of names) if (!(tensors[n] instanceof Tensor)) throw new Error(`saveSafetensors: "${n}" is not a Tensor`);
  const data = await readTensors(names.map((n) => tensors[n]));
  const out = nameTable<TensorData>();
  names.forEach((n, k) => (out[n] = { data: data[k], shape: [...tensors[n].shape] }));
  return out;
}

/** safetensors bytes of GPU tensors (+ string metadata). @example const bytes = await encodeTensors({ w: randn([2, 2]) }, { note: 'hi' }) */
export async function encodeTensors(tensors: Record<string, Tensor>, metadata?: Record<string, string>): Promise<Uint8Array> {
  return encodeSafetensors(await toHost(tensors), metadata);
}

/**
 * GPU tensors from safetensors bytes (new tensors, owned by the caller or the enclosing tidy).
 *
 * @example
 * const { tensors, metadata } = decodeTensors(await encodeTensors({ w: ones([2]) }, { note: 'hi' }));
 * console.log(await tensors.w.toArray(), metadata.note); // [1, 1] 'hi'
 */
export function decodeTensors(bytes: Uint8Array): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const decoded = decodeSafetensors(bytes);
  return { tensors: upload(decoded.tensors), metadata: decoded.metadata };
}

function upload(host: Record<string, { data: Float32Array | Int32Array; shape: readonly number[] }>): Record<string, Tensor> {
  const out = nameTable<Tensor>();
  for (const [n, t] of Object.entries(host)) out[n] = fromArray(t.data, t.shape, t.data instanceof Int32Array ? 'int32' : 'float32');
  return out;
}

/**
 * Writes GPU tensors to a safetensors file (atomically: temp file + rename). Node only.
 *
 * @example
 * const model = new nn.Linear(4, 2);
 * await saveSafetensors('/tmp/linear.safetensors', model.stateDict(), { epoch: '3' });
 */
export async function saveSafetensors(path: string, tensors: Record<string, Tensor>, metadata?: Record<string, string>): Promise<void> {
  const { saveSafetensorsFile } = await import('./node-files.ts');
  await saveSafetensorsFile(path, await toHost(tensors), metadata);
}

/**
 * Reads a safetensors file into new GPU tensors. Node only.
 *
 * @example
 * await saveSafetensors('/tmp/w.safetensors', { w: ones([2, 2]) });
 * const { tensors } = await loadSafetensors('/tmp/w.safetensors'); // also reads files written by PyTorch (F32)
 * new nn.Linear(2, 2).loadStateDict({ weight: tensors.w }, { strict: false });
 */
export async function loadSafetensors(path: string): Promise<{ tensors: Record<string, Tensor>; metadata: Record<string, string> }> {
  const { loadSafetensorsFile } = await import('./node-files.ts');
  const decoded = await loadSafetensorsFile(path);
  return { tensors: upload(decoded.tensors), metadata: decoded.metadata };
}

// ---- training checkpoints -----------------------------------------------------------------------

/** What saveCheckpoint() saves: model, optimizer, scheduler, extra tensors, counters, config, generators. */
export interface CheckpointState {
  model?: Module;
  optimizer?: Optimizer<any>;
  scheduler?: LRScheduler;
  /** Other tensors to save (read back as `tensors` by loadCheckpoint). */
  tensors?: Record<string, Tensor>;
  step?: number;
  epoch?: number;
  /** Any JSON-serialisable value (the run's configuration). */
  config?: unknown;
  /** Random generators to save, by name (default: { default: defaultGenerator }). */
  generators?: Record<string, Generator>;
  /** Extra string metadata (keys must not start with "wgrad."). */
  metadata?: Record<string, string>;
}

/** What loadCheckpoint() restores into (each optional): model, optimizer, scheduler, generators. */
export interface RestoreTargets {
  model?: Module;
  optimizer?: Optimizer<any>;
  scheduler?: LRScheduler;
  /** Generators to restore, by the names they were saved under (default: { default: defaultGenerator }). */
  generators?: Record<string, Generator>;
  /** Passed to model.loadStateDict (default true). */
  strict?: boolean;
}

/** What loadCheckpoint() returns besides restoring: counters, config, extra tensors and metadata. */
export interface LoadedCheckpoint {
  step?: number;
  epoch?: number;
  config?: unknown;
  /** The extra tensors (new GPU tensors, owned by the caller). */
  tensors: Record<string, Tensor>;
  /** The caller's own metadata. */
  metadata: Record<string, string>;
}

/** The value of `wgrad.format` in every checkpoint saveCheckpoint writes. */
export const CHECKPOINT_FORMAT = 'wgrad-checkpoint-1';

interface OptimizerMeta {
  type: string;
  paramGroups: OptimizerStateDict['paramGroups'];
  /** Non-tensor state (step counts) by parameter index. */
  scalars: Record<string, Record<string, number>>;
  /** Names of tensor state entries by parameter index (so empty state is kept too). */
  tensorNames: Record<string, string[]>;
}

/** The tensors and metadata a checkpoint of `state` consists of (the tensors are not copies). @example const { tensors, metadata } = checkpointContents({ model: new nn.Linear(2, 1), epoch: 1 }) */
export function checkpointContents(state: CheckpointState): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const tensors = nameTable<Tensor>();
  const metadata = nameTable<string>();
  metadata['wgrad.format'] = CHECKPOINT_FORMAT;
  for (const [k, v] of Object.entries(state.metadata ?? {})) {
    if (k.startsWith('wgrad.'))
      throw new Error(`saveCheckpoint: metadata key "${k}" is reserved (keys starting with "wgrad." are wgrad's own)`);
    metadata[k] = v;
  }
  if (state.model) for (const [k, t] of Object.entries(state.model.stateDict())) tensors[`model.${k}`] = t;
  if (state.optimizer) {
    const sd = state.optimizer.stateDict();
    const meta: OptimizerMeta = { type: state.optimizer.name, paramGroups: sd.paramGroups, scalars: {}, tensorNames: {} };
    for (const [i, s] of Object.entries(sd.state)) {
      meta.scalars[i] = {};
      meta.tensorNames[i] = [];
      for (const [name, v] of Object.entries(s)) {
        if (v instanceof Tensor) {
          tensors[`optimizer.${i}.${name}`] = v;
          meta.tensorNames[i].push(name);
        } else {
          meta.scalars[i][name] = v;
        }
      }
    }
    metadata['wgrad.optimizer'] = JSON.stringify(meta);
  }
  if (state.scheduler) metadata['wgrad.scheduler'] = JSON.stringify(state.scheduler.stateDict());
  for (const [k, t] of Object.entries(state.tensors ?? {})) tensors[`extra.${k}`] = t;
  if (state.step !== undefined) metadata['wgrad.step'] = JSON.stringify(state.step);
  if (state.epoch !== undefined) metadata['wgrad.epoch'] = JSON.stringify(state.epoch);
  if (state.config !== undefined) metadata['wgrad.config'] = JSON.stringify(state.config);
  const gens = state.generators ?? { default: defaultGenerator };
  metadata['wgrad.rng'] = JSON.stringify(Object.fromEntries(Object.entries(gens).map(([k, g]) => [k, g.getState()])));
  return { tensors, metadata };
}

/**
 * Restores model, optimizer, scheduler and generators from decoded checkpoint tensors and
 * metadata. Consumes `tensors`: everything but the extra ones is disposed. For checkpoints that
 * are not files (a browser's IndexedDB, a network transfer); loadCheckpoint reads a file.
 *
 * @example
 * const model = new nn.Linear(2, 1);
 * const c = checkpointContents({ model, step: 10 });
 * const { tensors, metadata } = decodeTensors(await encodeTensors(c.tensors, c.metadata));
 * const { step } = restoreCheckpoint(tensors, metadata, { model }); // step === 10
 */
export function restoreCheckpoint(
  tensors: Record<string, Tensor>,
  metadata: Record<string, string>,
  into: RestoreTargets,
): LoadedCheckpoint {
  if (metadata['wgrad.format'] !== CHECKPOINT_FORMAT) {
    throw new Error(
      `loadCheckpoint: not a wgrad checkpoint (metadata "wgrad.format" is ${JSON.stringify(metadata['wgrad.format'])}, expected "${CHECKPOINT_FORMAT}"); use loadSafetensors for plain tensor files`,
    );
  }
  const parse = (key: string): unknown => {
    try {
      return JSON.parse(metadata[key]);
    } catch (e) {
      throw new Error(`loadCheckpoint: metadata "${key}" is not valid JSON (${(e as Error).message})`);
    }
  };
  const group = (prefix: string) => {
    const out = nameTable<Tensor>();
    for (const [k, t] of Object.entries(tensors)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = t;
    return out;
  };
  const num = (k: string) => {
    if (metadata[k] === undefined) return undefined;
    const n = parse(k);
    if (!Number.isSafeInteger(n) || (n as number) < 0)
      throw new Error(`loadCheckpoint: metadata "${k}" is ${metadata[k]}; expected an integer >= 0`);
    return n as number;
  };
  let counters: { step?: number; epoch?: number; config?: unknown };
  try {
    counters = {
      step: num('wgrad.step'),
      epoch: num('wgrad.epoch'),
      config: metadata['wgrad.config'] === undefined ? undefined : parse('wgrad.config'),
    };
  } catch (e) {
    for (const t of Object.values(tensors)) t.dispose();
    throw e;
  }
  const model = group('model.');
  const opt = group('optimizer.');
  const extra = group('extra.');
  try {
    if (into.model) {
      if (Object.keys(model).length === 0) throw new Error('loadCheckpoint: the checkpoint holds no model state');
      into.model.loadStateDict(model, { strict: into.strict ?? true });
    }
    if (into.optimizer) {
      const raw = metadata['wgrad.optimizer'];
      if (!raw) throw new Error('loadCheckpoint: the checkpoint holds no optimizer state');
      const meta = parse('wgrad.optimizer') as OptimizerMeta;
      if (meta === null || typeof meta !== 'object' || typeof meta.tensorNames !== 'object' || meta.tensorNames === null)
        throw new Error(
          `loadCheckpoint: metadata "wgrad.optimizer" is ${raw.slice(0, 80)}; expected { type, paramGroups, scalars, tensorNames }`,
        );
      if (meta.type !== into.optimizer.name)
        throw new Error(`loadCheckpoint: the checkpoint's optimizer is ${meta.type}, not ${into.optimizer.name}`);
      const state: Record<number, ParamState> = {};
      for (const i of Object.keys(meta.tensorNames)) {
        const s: ParamState = { ...meta.scalars[i] };
        for (const name of meta.tensorNames[i]) {
          const t = opt[`${i}.${name}`];
          if (!t) throw new Error(`loadCheckpoint: optimizer tensor "optimizer.${i}.${name}" is missing from the checkpoint`);
          s[name] = t;
        }
        state[Number(i)] = s;
      }
      into.optimizer.loadStateDict({ state, paramGroups: meta.paramGroups });
    }
    if (into.scheduler) {
      const raw = metadata['wgrad.scheduler'];
      if (!raw) throw new Error('loadCheckpoint: the checkpoint holds no scheduler state');
      into.scheduler.loadStateDict(parse('wgrad.scheduler') as never);
    }
    const rng = (metadata['wgrad.rng'] === undefined ? {} : parse('wgrad.rng')) as Record<string, number[]>;
    for (const [name, g] of Object.entries(into.generators ?? { default: defaultGenerator })) {
      if (rng === null || typeof rng !== 'object' || !Object.hasOwn(rng, name))
        throw new Error(
          `loadCheckpoint: no state for generator "${name}" in the checkpoint (it has: ${Object.keys(rng).join(', ') || 'none'})`,
        );
      g.setState(rng[name]);
    }
  } catch (e) {
    for (const t of Object.values(tensors)) t.dispose();
    throw e;
  }
  for (const [k, t] of Object.entries(tensors)) if (!k.startsWith('extra.')) t.dispose();

  const user = Object.fromEntries(Object.entries(metadata).filter(([k]) => !k.startsWith('wgrad.')));
  return { ...counters, tensors: extra, metadata: user };
}

/**
 * Saves a training state to one safetensors file (atomically). Node only.
 *
 * @example
 * const model = new nn.Linear(4, 2);
 * const opt = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
 * await saveCheckpoint('/tmp/run.safetensors', { model, optimizer: opt, epoch: 5, config: { lr: 0.1 } });
 */
export async function saveCheckpoint(path: string, state: CheckpointState): Promise<void> {
  const { tensors, metadata } = checkpointContents(state);
  await saveSafetensors(path, tensors, metadata);
}

/**
 * Loads a checkpoint written by saveCheckpoint into the given model / optimizer / scheduler / generators. Node only.
 *
 * @example
 * const model = new nn.Linear(4, 2);
 * const opt = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
 * await saveCheckpoint('/tmp/run.safetensors', { model, optimizer: opt, epoch: 5 });
 * const { epoch } = await loadCheckpoint('/tmp/run.safetensors', { model, optimizer: opt }); // 5
 */
export async function loadCheckpoint(path: string, into: RestoreTargets = {}): Promise<LoadedCheckpoint> {
  const { tensors, metadata } = await loadSafetensors(path);
  try {
    return restoreCheckpoint(tensors, metadata, into);
  } catch (e) {
    throw new Error(`${(e as Error).message} (in "${path}")`, { cause: e });
  }
}
