// The training checkpoint of `wgrad-moco train`, in the library's checkpoint format
// (src/io/checkpoint.ts, so the library's `loadCheckpoint(file)` reads it too):
//   extra.<name>                     the method's state (ContrastiveMethod.state(): MoCo's query.*,
//                                    key.*, queue, memoryBank; NNCLR's net.*, supportSet; …)
//   optimizer.<i>.momentumBuffer     SGD momentum, with `wgrad.optimizer` in the metadata
// and in the metadata `wgrad.epoch`, `wgrad.config`, `wgrad.rng` (data, aug, default generators)
// plus the run's own `moco.format`, `moco.numbers` (the method's counters: queue pointer, …),
// `moco.records`, `moco.baselines` and `moco.digest`. Written
// atomically (temp file + rename). Files of the first format (`format: wgrad-moco-checkpoint/1`)
// are still read.
//
// A checkpoint is untrusted input: readMocoCheckpoint checks every metadata key against the rules
// of the command-line options (TRAIN_OPTIONS) and the run's arithmetic (epoch within the run,
// pointer where the run leaves it, generator states of the right length), every tensor's dtype and
// values (finite); checkMocoTensors then compares every tensor's name and shape with the model
// built from that config, before any of them is uploaded. A problem is a CheckpointError naming
// the file and the key.
//
// Test hook: WGRAD_TEST_CRASH_BEFORE_RENAME=<epoch> makes the process kill itself (SIGKILL, no
// cleanup) after the temp file of that epoch's checkpoint is written and before the rename, the
// worst moment for a crash; test/reliability/crash-resume.test.ts checks the previous checkpoint survives.

import { CHECKPOINT_FORMAT as LIBRARY_FORMAT, nameTable } from '../io/checkpoint.ts';
import { loadSafetensorsFile, writeFileAtomic } from '../io/node-files.ts';
import type { DecodedTensor } from '../io/safetensors.ts';
import { fromArray } from '../ops/creation-internal.ts';
import { fmt, sameShape } from '../shape.ts';
import { kebab, type OptionSpec } from './args.ts';
import { removeStaleTempFiles } from './run-lock.ts';
import type { Tensor } from '../tensor.ts';
import type { Generator } from '../random.ts';
import type { Optimizer, OptimizerStateDict } from '../optim/optimizer.ts';
import type { ContrastiveMethod } from '../moco/method.ts';
import { MOCO_RUN_FORMAT as LEGACY_FORMAT, RUN_FORMAT, encodeMocoRun, runDigest } from '../moco/run-file.ts';

export { methodState } from '../moco/run-file.ts';

export interface Generators {
  dataGen: Generator;
  augGen: Generator;
  defaultGen: Generator;
}

/** Config keys added after checkpoints were first written, with the value older runs had. */
const ADDED_LATER: Record<string, unknown> = {
  mechanism: 'queue',
  cropMin: 0.2,
  method: 'moco',
  supportSetSize: 4096,
  predictionHeadWidth: 0,
  mlpDim: 0,
  finalEval: true,
  finalProbe: false,
  detectAnomaly: false,
};

/** What a checkpoint says is wrong, with the file and the key (metadata key or tensor name). */
export class CheckpointError extends Error {
  constructor(
    readonly file: string,
    readonly key: string,
    what: string,
  ) {
    super(`${file}: ${key} ${what}`);
    this.name = 'CheckpointError';
  }
}

/** One epoch of the log, as `wgrad-moco train` records it. */
interface RecordShape {
  epoch: number;
  loss: number;
  accuracy: number;
  knn: number;
  lr: number;
  seconds: number;
  imagesPerSecond: number;
}

/** A checkpoint read and checked on the host; nothing of it is on the GPU yet. */
export interface MocoCheckpoint {
  file: string;
  /** The run's configuration (every option of TRAIN_OPTIONS, checked by its rules). */
  config: Record<string, unknown>;
  epoch: number;
  /** The method's counters (MoCo: queuePtr; NNCLR: supportSetPtr, supportSetFilled). */
  numbers: Record<string, number>;
  records: RecordShape[];
  baselines: Record<string, number>;
  rng: { data: number[]; aug: number[]; default: number[] };
  optimizer: {
    type: string;
    paramGroups: OptimizerStateDict['paramGroups'];
    scalars: Record<string, Record<string, number>>;
    tensorNames: Record<string, string[]>;
  };
  tensors: Record<string, DecodedTensor>;
  /** The file's metadata (after conversion, for a first-format file). */
  metadata: Record<string, string>;
  /** A first-format file (it has no digest). */
  legacy: boolean;
}

/** Compares the file's digest with its contents (after every other check, so those name the key). */
export function checkDigest(c: MocoCheckpoint): void {
  if (c.legacy) return;
  const want = c.metadata['moco.digest'];
  if (want === undefined) throw new CheckpointError(c.file, 'metadata "moco.digest"', 'is missing');
  if (runDigest(c.tensors, c.metadata) !== want) {
    throw new CheckpointError(
      c.file,
      'metadata "moco.digest"',
      'does not match the contents: the file was changed after wgrad-moco wrote it (its other keys pass their checks, so the change is in a value: a log record, the pointer, a weight)',
    );
  }
}

export async function saveMocoCheckpoint(
  path: string,
  model: ContrastiveMethod,
  opt: Optimizer<any>,
  gens: Generators,
  meta: { epoch: number; records: unknown[]; baselines: Record<string, number>; config: unknown },
): Promise<void> {
  const bytes = await encodeMocoRun(model, opt, gens, meta);
  const crashAt = process.env.WGRAD_TEST_CRASH_BEFORE_RENAME;
  await writeFileAtomic(path, bytes, {
    beforeRename:
      crashAt === String(meta.epoch)
        ? () => {
            process.kill(process.pid, 'SIGKILL');
            return new Promise<void>(() => {});
          }
        : undefined,
  });
  removeStaleTempFiles(path);
}

/** A first-format file's names and keys in the current format (the checks then name the new keys). */
function fromLegacy(
  file: string,
  tensors: Record<string, DecodedTensor>,
  md: Record<string, string>,
): { tensors: Record<string, DecodedTensor>; metadata: Record<string, string> } {
  const t = nameTable<DecodedTensor>();
  for (const [k, v] of Object.entries(tensors)) {
    t[k.startsWith('optimizer.') ? k : `extra.${k}`] = v;
  }
  const m = nameTable<string>();
  const copy = (from: string, to: string) => {
    if (md[from] !== undefined) m[to] = md[from];
  };
  m['wgrad.format'] = LIBRARY_FORMAT;
  m['moco.format'] = RUN_FORMAT;
  copy('epoch', 'wgrad.epoch');
  copy('config', 'wgrad.config');
  copy('rng', 'wgrad.rng');
  m['moco.numbers'] = md.methodNumbers ?? JSON.stringify({ queuePtr: Number(md.queuePtr) });
  copy('records', 'moco.records');
  copy('baselines', 'moco.baselines');
  if (md.optimizerGroups !== undefined && md.optimizerNumbers !== undefined) {
    const numbers = parseJson(file, 'optimizerNumbers', md.optimizerNumbers);
    const scalars: Record<string, Record<string, number>> = {};
    const tensorNames: Record<string, string[]> = {};
    for (const k of Object.keys(t)) {
      const [, i, name] = k.split('.');
      if (k.startsWith('optimizer.')) (tensorNames[i] ??= []).push(name);
    }
    for (const i of Object.keys(tensorNames))
      scalars[i] = isObject(numbers) && isObject(numbers[i]) ? (numbers[i] as Record<string, number>) : {};
    m['wgrad.optimizer'] = JSON.stringify({
      type: 'SGD',
      paramGroups: parseJson(file, 'optimizerGroups', md.optimizerGroups),
      scalars,
      tensorNames,
    });
  }
  return { tensors: t, metadata: m };
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const show = (v: unknown) =>
  typeof v === 'string' ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v) : (JSON.stringify(v) ?? String(v));

function parseJson(file: string, key: string, raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (e) {
    throw new CheckpointError(file, `metadata "${key}"`, `is not valid JSON (${(e as Error).message})`);
  }
}

/** A config value checked by its option's rules (type, min/max, choices), as the command line would. */
function checkOption(file: string, name: string, spec: OptionSpec, v: unknown): void {
  const bad = (why: string) =>
    new CheckpointError(file, `metadata "wgrad.config" field "${name}"`, `is ${show(v)}: ${why} (the rule of --${kebab(name)})`);
  if (spec.type === 'bool') {
    if (typeof v !== 'boolean') throw bad('expected true or false');
    return;
  }
  if (spec.type === 'string') {
    if (typeof v !== 'string') throw bad('expected a string');
    if (spec.choices && !spec.choices.includes(v)) throw bad(`expected one of ${spec.choices.join(', ')}`);
    return;
  }
  if (typeof v !== 'number' || !Number.isFinite(v) || (spec.type === 'int' && !Number.isInteger(v)))
    throw bad(`expected ${spec.type === 'int' ? 'an integer' : 'a number'}`);
  if (spec.min !== undefined && v < spec.min) throw bad(`must be >= ${spec.min}`);
  if (spec.max !== undefined && v > spec.max) throw bad(`must be <= ${spec.max}`);
}

/** An integer written as a decimal string, in lo..hi. */
function intKey(file: string, md: Record<string, string>, key: string, lo: number, hi: number, why: string): number {
  const raw = md[key];
  if (raw === undefined) throw new CheckpointError(file, `metadata "${key}"`, 'is missing');
  const n = Number(raw);
  if (!/^(0|[1-9][0-9]*)$/.test(raw) || n < lo || n > hi) {
    throw new CheckpointError(file, `metadata "${key}"`, `is ${show(raw)}; expected an integer in ${lo}..${hi} (${why})`);
  }
  return n;
}

function jsonKey(file: string, md: Record<string, string>, key: string): unknown {
  if (md[key] === undefined) throw new CheckpointError(file, `metadata "${key}"`, 'is missing');
  return parseJson(file, key, md[key]);
}

function checkRecords(file: string, v: unknown, epoch: number): RecordShape[] {
  const key = 'metadata "moco.records"';
  if (!Array.isArray(v)) throw new CheckpointError(file, key, `is ${show(v)}; expected a list of epoch records`);
  if (v.length !== epoch)
    throw new CheckpointError(file, key, `holds ${v.length} epoch records; the checkpoint is of epoch ${epoch} (metadata "wgrad.epoch")`);
  const ranges: Record<string, [number, number]> = {
    loss: [-Infinity, Infinity],
    accuracy: [0, 1],
    knn: [0, 100],
    lr: [0, Infinity],
    seconds: [0, Infinity],
    imagesPerSecond: [0, Infinity],
  };
  v.forEach((r, i) => {
    if (!isObject(r) || r.epoch !== i + 1)
      throw new CheckpointError(file, key, `record ${i} is ${show(r)}; expected { epoch: ${i + 1}, … }`);
    for (const [f, [lo, hi]] of Object.entries(ranges)) {
      const x = r[f];
      if (typeof x !== 'number' || !Number.isFinite(x) || x < lo || x > hi) {
        throw new CheckpointError(
          file,
          key,
          `record ${i} field "${f}" is ${show(x)}; expected a finite number${lo > -Infinity ? ` in ${lo}..${hi}` : ''}`,
        );
      }
    }
  });
  return v as RecordShape[];
}

function checkRng(file: string, v: unknown): MocoCheckpoint['rng'] {
  const key = 'metadata "wgrad.rng"';
  if (!isObject(v)) throw new CheckpointError(file, key, `is ${show(v)}; expected { data, aug, default } generator states`);
  for (const name of ['data', 'aug', 'default']) {
    const s = v[name];
    const ok =
      Array.isArray(s) &&
      (s.length === 2 || s.length === 3) &&
      s.slice(0, 2).every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32) &&
      (s.length === 2 || (typeof s[2] === 'number' && Number.isFinite(s[2])));
    if (!ok)
      throw new CheckpointError(
        file,
        key,
        `generator "${name}" has state ${show(s)}; expected [hi, lo] (two integers in 0..2^32-1) and an optional finite spare normal`,
      );
  }
  return v as MocoCheckpoint['rng'];
}

/**
 * Reads a run checkpoint and checks everything that needs no model: format, config (by `spec`, the
 * rules of TRAIN_OPTIONS), epoch, pointer, records, baselines, generator states, optimizer metadata,
 * every tensor's dtype and values, and the queue's shape against the config (which bounds K × dim).
 */
export async function readMocoCheckpoint(file: string, spec: Record<string, OptionSpec>): Promise<MocoCheckpoint> {
  let { tensors, metadata } = await loadSafetensorsFile(file);
  const legacy = metadata.format === LEGACY_FORMAT;
  if (legacy) ({ tensors, metadata } = fromLegacy(file, tensors, metadata));
  if (metadata['moco.format'] !== RUN_FORMAT || metadata['wgrad.format'] !== LIBRARY_FORMAT) {
    throw new CheckpointError(
      file,
      'metadata "moco.format"',
      `is ${show(metadata['moco.format'])} (and "wgrad.format" ${show(metadata['wgrad.format'])}); this is not a checkpoint of wgrad-moco train (expected "${RUN_FORMAT}")`,
    );
  }
  const raw = jsonKey(file, metadata, 'wgrad.config');
  if (!isObject(raw))
    throw new CheckpointError(file, 'metadata "wgrad.config"', `is ${show(raw)}; expected an object of the train options`);
  const config = Object.create(null) as Record<string, unknown>;
  for (const [name, s] of Object.entries(spec)) {
    const v = Object.hasOwn(raw, name) ? raw[name] : ADDED_LATER[name];
    if (v === undefined) throw new CheckpointError(file, `metadata "wgrad.config" field "${name}"`, `is missing (--${kebab(name)})`);
    checkOption(file, name, s, v);
    config[name] = v;
  }
  const epochs = config.epochs as number;
  const epoch = intKey(file, metadata, 'wgrad.epoch', 1, epochs, `the run has --epochs ${epochs}`);
  const numbers = jsonKey(file, metadata, 'moco.numbers');
  if (!isObject(numbers) || Object.values(numbers).some((x) => !Number.isSafeInteger(x) || (x as number) < 0)) {
    throw new CheckpointError(file, 'metadata "moco.numbers"', `is ${show(numbers)}; expected the method's counters, integers >= 0`);
  }
  if (numbers.queuePtr !== undefined && (numbers.queuePtr as number) >= (config.K as number)) {
    throw new CheckpointError(
      file,
      'metadata "moco.numbers"',
      `has queuePtr ${numbers.queuePtr}; expected an integer in 0..${(config.K as number) - 1} (the queue has --K ${config.K} slots)`,
    );
  }
  const records = checkRecords(file, jsonKey(file, metadata, 'moco.records'), epoch);
  const baselines = jsonKey(file, metadata, 'moco.baselines');
  if (
    !isObject(baselines) ||
    Object.entries(baselines).some(
      ([k, x]) => !['rawPixels', 'randomEncoder'].includes(k) || typeof x !== 'number' || !(x >= 0 && x <= 100),
    )
  ) {
    throw new CheckpointError(
      file,
      'metadata "moco.baselines"',
      `is ${show(baselines)}; expected { rawPixels, randomEncoder } accuracies in 0..100 (or {})`,
    );
  }
  const rng = checkRng(file, jsonKey(file, metadata, 'wgrad.rng'));
  const optimizer = jsonKey(file, metadata, 'wgrad.optimizer');
  if (
    !isObject(optimizer) ||
    typeof optimizer.type !== 'string' ||
    !Array.isArray(optimizer.paramGroups) ||
    !isObject(optimizer.scalars) ||
    !isObject(optimizer.tensorNames)
  ) {
    throw new CheckpointError(
      file,
      'metadata "wgrad.optimizer"',
      `is ${show(optimizer)}; expected { type, paramGroups, scalars, tensorNames }`,
    );
  }
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype !== 'F32')
      throw new CheckpointError(file, `tensor "${name}"`, `has dtype ${t.dtype}; a wgrad-moco checkpoint holds F32 tensors only`);
    const bad = t.data.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0)
      throw new CheckpointError(
        file,
        `tensor "${name}"`,
        `holds ${t.data[bad]} at element ${bad}; every value must be finite (was the run diverging when it was saved?)`,
      );
  }
  // The largest buffers a config asks for are checked against the file before anything is built.
  const sized =
    config.method === 'nnclr'
      ? (['extra.supportSet', [config.supportSetSize, config.dim], '--support-set-size, --dim'] as const)
      : config.method === 'mocov3'
        ? null
        : (['extra.queue', [config.K, config.dim], '--K, --dim'] as const);
  if (sized) {
    const [name, shape, flags] = sized;
    if (!tensors[name]) throw new CheckpointError(file, `tensor "${name}"`, 'is missing');
    if (!sameShape(tensors[name].shape, shape as unknown as number[]))
      throw new CheckpointError(
        file,
        `tensor "${name}"`,
        `has shape ${fmt(tensors[name].shape)}; the config (${flags}) needs ${fmt(shape as unknown as number[])}`,
      );
  }
  return {
    file,
    config,
    epoch,
    numbers: numbers as Record<string, number>,
    records,
    baselines: baselines as Record<string, number>,
    rng,
    optimizer: optimizer as MocoCheckpoint['optimizer'],
    tensors,
    metadata,
    legacy,
  };
}

/** Every tensor the model and optimizer expect, by name, with its shape. */
function expectedTensors(model: ContrastiveMethod, opt: Optimizer<any> | null): Record<string, readonly number[]> {
  const want = nameTable<readonly number[]>();
  for (const [k, t] of Object.entries(model.state().tensors)) want[`extra.${k}`] = t.shape;
  if (opt) opt.params.forEach((p: Tensor, i: number) => (want[`optimizer.${i}.momentumBuffer`] = p.shape));
  return want;
}

/**
 * Compares the checkpoint's tensors (names and shapes) and optimizer metadata with the model and
 * optimizer built from its config; nothing is uploaded. `lr`: the learning rate the last saved
 * epoch used; `numbers`: the method's counters where the run leaves them (null: not predictable).
 */
export function checkMocoTensors(
  c: MocoCheckpoint,
  model: ContrastiveMethod,
  opt: Optimizer<any>,
  expect: { lr: number; numbers: Record<string, number> | null },
): void {
  const { file } = c;
  const want = expectedTensors(model, opt);
  for (const name of Object.keys(want)) {
    const t = c.tensors[name];
    if (!t) throw new CheckpointError(file, `tensor "${name}"`, `is missing (the config's model has it, shape ${fmt(want[name])})`);
    if (!sameShape(t.shape, want[name]))
      throw new CheckpointError(file, `tensor "${name}"`, `has shape ${fmt(t.shape)}; the config's model needs ${fmt(want[name])}`);
  }
  for (const name of Object.keys(c.tensors)) {
    if (!want[name]) throw new CheckpointError(file, `tensor "${name}"`, 'is not part of the model the config describes');
  }
  const o = c.optimizer;
  const key = 'metadata "wgrad.optimizer"';
  if (o.type !== opt.name) throw new CheckpointError(file, key, `names optimizer ${show(o.type)}; the run uses ${opt.name}`);
  const mine = opt.stateDict().paramGroups;
  const groupsOk =
    o.paramGroups.length === mine.length &&
    o.paramGroups.every(
      (g, gi) =>
        isObject(g) &&
        Object.keys(g).sort().join() === Object.keys(mine[gi]).sort().join() &&
        Object.entries(mine[gi]).every(([k, v]) =>
          k === 'lr' ? g.lr === expect.lr || (c.legacy && typeof g.lr === 'number') : JSON.stringify(g[k]) === JSON.stringify(v),
        ),
    );
  if (!groupsOk)
    throw new CheckpointError(
      file,
      key,
      `has parameter groups ${show(o.paramGroups)}; the config gives ${show(mine.map((g) => ({ ...g, lr: expect.lr })))}`,
    );
  const indices = opt.params.map((_: Tensor, i: number) => String(i));
  const namesOk =
    Object.keys(o.tensorNames).sort().join() === [...indices].sort().join() &&
    indices.every(
      (i: string) =>
        JSON.stringify(o.tensorNames[i]) === '["momentumBuffer"]' && isObject(o.scalars[i]) && Object.keys(o.scalars[i]).length === 0,
    ) &&
    Object.keys(o.scalars).length === indices.length;
  if (!namesOk)
    throw new CheckpointError(
      file,
      key,
      `does not list one momentumBuffer (and no other state) for each of the ${indices.length} parameters`,
    );
  const mineNumbers = Object.keys(model.state().numbers).sort().join(', ');
  if (Object.keys(c.numbers).sort().join(', ') !== mineNumbers) {
    throw new CheckpointError(file, 'metadata "moco.numbers"', `is ${show(c.numbers)}; the method of the config keeps {${mineNumbers}}`);
  }
  // A first-format file may come from another engine (scripts/torch): its lr and counters are not predicted.
  for (const [k, v] of Object.entries(c.legacy ? {} : (expect.numbers ?? {}))) {
    if (c.numbers[k] !== v)
      throw new CheckpointError(
        file,
        'metadata "moco.numbers"',
        `has ${k} ${c.numbers[k]}, but after ${c.epoch} epoch(s) the run leaves it at ${v}`,
      );
  }
  checkDigest(c);
}

/** Uploads the method's checked tensors and restores its state (they are copied, then freed). */
export function restoreMethod(c: MocoCheckpoint, model: ContrastiveMethod): void {
  const tensors = nameTable<Tensor>();
  for (const k of Object.keys(c.tensors))
    if (k.startsWith('extra.')) tensors[k.slice(6)] = fromArray(c.tensors[k].data, c.tensors[k].shape);
  try {
    model.loadState({ tensors, numbers: { ...c.numbers } });
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}

/** Restores method, optimizer and generators from a checked checkpoint. */
export function restoreMoco(c: MocoCheckpoint, model: ContrastiveMethod, opt: Optimizer<any>, gens: Generators): void {
  restoreMethod(c, model);
  const state: OptimizerStateDict['state'] = {};
  const loaded: Tensor[] = [];
  try {
    opt.params.forEach((_: Tensor, i: number) => {
      const t = fromArray(c.tensors[`optimizer.${i}.momentumBuffer`].data, c.tensors[`optimizer.${i}.momentumBuffer`].shape);
      loaded.push(t);
      state[i] = { momentumBuffer: t };
    });
    opt.loadStateDict({ state, paramGroups: c.optimizer.paramGroups });
  } finally {
    for (const t of loaded) t.dispose();
  }
  gens.dataGen.setState(c.rng.data);
  gens.augGen.setState(c.rng.aug);
  gens.defaultGen.setState(c.rng.default);
}
