// Issue 15, command-line half, and issue 13's one checkpoint format: each finding of the issue as
// a test (a bad checkpoint key is refused naming the file and the key; evaluate builds nothing the
// file names blindly; NaN stops training; one writer per run directory), and loadMoCoRun.
// Fixtures: an uninterrupted 2-epoch tiny run (A) and the same run SIGKILLed while writing its
// epoch-2 checkpoint (B: epoch-1 checkpoint, stale lock, stale temp file), both child processes.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli, tinyTrainArgs, type CliResult } from './cli.ts';
import { setup } from '../helpers.ts';
import { decodeSafetensors, encodeSafetensors, type TensorData } from '../../src/io/safetensors.ts';
import { loadCheckpoint, loadSafetensors, loadMoCoRun, knnAccuracy, noGrad, tidy, Generator } from '../../src/index.ts';
import { restoreMocoRun } from '../../src/moco/run-file.ts';
import { SGD } from '../../src/optim/sgd.ts';
import { train, TRAIN_OPTIONS, buildEncoder, buildModel, loadData } from '../../src/cli/train.ts';
import { evaluate } from '../../src/cli/evaluate.ts';
import { parseArgs } from '../../src/cli/args.ts';
import { fromArray } from '../../src/ops/creation-internal.ts';
import { toFloat } from '../../src/data/dataset.ts';
import { LOCK_NAME } from '../../src/cli/run-lock.ts';
import { checkpointMutations } from './fuzz.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wgrad-run-ckpt-'));
const dirA = path.join(tmp, 'A');
const dirB = path.join(tmp, 'B');
const ckpt = (dir: string) => path.join(dir, 'checkpoint.safetensors');
const explain = (r: CliResult) => `exit ${r.code} signal ${r.signal}\nstdout:\n${r.stdout.slice(-1500)}\nstderr:\n${r.stderr.slice(-1500)}`;
let epoch1: Uint8Array;
/** The options of the tiny run, for calling train() in this process. */
const tiny = (dir: string, epochs: number) => tinyTrainArgs(dir, epochs).slice(1);

test.before(async () => {
  await setup();
  const [a, b] = await Promise.all([
    runCli(tinyTrainArgs(dirA, 2)),
    runCli(tinyTrainArgs(dirB, 2), { WGRAD_TEST_CRASH_BEFORE_RENAME: '2' }),
  ]);
  assert.is(a.code, 0, explain(a));
  assert.is(b.signal, 'SIGKILL', explain(b));
  epoch1 = fs.readFileSync(ckpt(dirB));
});
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A copy of the epoch-1 checkpoint in a fresh run directory, changed by `edit` (host tensors, metadata). */
let made = 0;
function mutated(edit: (t: Record<string, TensorData>, m: Record<string, string>) => void): string {
  const dir = path.join(tmp, `m${made++}`);
  fs.mkdirSync(dir);
  const { tensors, metadata } = decodeSafetensors(epoch1);
  edit(tensors, metadata);
  fs.writeFileSync(ckpt(dir), encodeSafetensors(tensors, metadata));
  return dir;
}

async function quietly<T>(f: () => Promise<T>): Promise<T> {
  const log = console.log;
  console.log = () => {};
  try {
    return await f();
  } finally {
    console.log = log;
  }
}

async function failure(f: () => Promise<unknown>): Promise<string> {
  try {
    await quietly(f);
  } catch (e) {
    return (e as Error).message;
  }
  return 'no error';
}

const resume = (dir: string) => failure(() => train([...tiny(dir, 2), '--resume']));
const evaluateRun = (dir: string) => failure(() => evaluate(['--out', dir, '--probe-epochs', '0']));

test('--resume refuses a bad epoch, pointer, generator state, log or missing key, naming the file and the key', async () => {
  const cases: [string, (t: Record<string, TensorData>, m: Record<string, string>) => void, string][] = [
    [
      'epoch "abc"',
      (_, m) => (m['wgrad.epoch'] = 'abc'),
      'metadata "wgrad.epoch" is "abc"; expected an integer in 1..2 (the run has --epochs 2)',
    ],
    ['epoch "-5"', (_, m) => (m['wgrad.epoch'] = '-5'), 'metadata "wgrad.epoch" is "-5"; expected an integer in 1..2'],
    ['epoch "1.5"', (_, m) => (m['wgrad.epoch'] = '1.5'), 'metadata "wgrad.epoch" is "1.5"; expected an integer in 1..2'],
    [
      'no optimizer tensors',
      (t) => {
        for (const k of Object.keys(t)) if (k.startsWith('optimizer.')) delete t[k];
      },
      'tensor "optimizer.0.momentumBuffer" is missing',
    ],
    ['empty rng', (_, m) => (m['wgrad.rng'] = '{}'), 'metadata "wgrad.rng" generator "data" has state undefined'],
    [
      'queuePtr ""',
      (_, m) => (m['moco.numbers'] = '{"queuePtr":""}'),
      'metadata "moco.numbers" is {"queuePtr":""}; expected the method\'s counters, integers >= 0',
    ],
    [
      'queuePtr out of range',
      (_, m) => (m['moco.numbers'] = '{"queuePtr":64}'),
      'metadata "moco.numbers" has queuePtr 64; expected an integer in 0..63 (the queue has --K 64 slots)',
    ],
    [
      'queuePtr moved',
      (_, m) => (m['moco.numbers'] = '{"queuePtr":32}'),
      'metadata "moco.numbers" has queuePtr 32, but after 1 epoch(s) the run leaves it at 0',
    ],
    ['no config', (_, m) => delete m['wgrad.config'], 'metadata "wgrad.config" is missing'],
    ['no rng', (_, m) => delete m['wgrad.rng'], 'metadata "wgrad.rng" is missing'],
    [
      'records not a list',
      (_, m) => (m['moco.records'] = '{"a":1}'),
      'metadata "moco.records" is {"a":1}; expected a list of epoch records',
    ],
    [
      'records not JSON',
      (_, m) => (m['moco.records'] = m['moco.records'].replace('"loss":', '"loss":1e-3+')),
      'metadata "moco.records" is not valid JSON',
    ],
    ['NaN queue', (t) => t['extra.queue'].data.fill(NaN), 'tensor "extra.queue" holds NaN at element 0; every value must be finite'],
    [
      'Inf key weight',
      (t) => (t['extra.key.backbone.features.0.weight'].data[3] = Infinity),
      'tensor "extra.key.backbone.features.0.weight" holds Infinity at element 3',
    ],
  ];
  for (const [what, edit, want] of cases) {
    const dir = mutated(edit);
    const msg = await resume(dir);
    assert.ok(msg.startsWith(`${ckpt(dir)}: ${want}`), `${what}: got\n  ${msg}\nwant\n  ${ckpt(dir)}: ${want}…`);
  }
});

test('a value changed after the write (here a logged loss) is refused by the digest', async () => {
  const dir = mutated((_, m) => {
    const r = JSON.parse(m['moco.records']);
    r[0].loss += 0.5;
    m['moco.records'] = JSON.stringify(r);
  });
  assert.match(await resume(dir), `${ckpt(dir)}: metadata "moco.digest" does not match the contents`);
});

test('evaluate builds nothing the file names blindly: width, encoder name, NaN weights', async () => {
  const config = (edit: (c: Record<string, unknown>) => void) =>
    mutated((_, m) => {
      const c = JSON.parse(m['wgrad.config']);
      edit(c);
      m['wgrad.config'] = JSON.stringify(c);
    });
  let dir = config((c) => (c.width = 3000));
  assert.is(await evaluateRun(dir), `${ckpt(dir)}: metadata "wgrad.config" field "width" is 3000: must be <= 1024 (the rule of --width)`);
  dir = config((c) => (c.encoder = 'evil'));
  assert.is(
    await evaluateRun(dir),
    `${ckpt(dir)}: metadata "wgrad.config" field "encoder" is "evil": expected one of ${TRAIN_OPTIONS.encoder.choices.join(', ')} (the rule of --encoder)`,
  );
  dir = config((c) => (c.width = 8)); // well-formed, but not the model the tensors are
  assert.match(
    await evaluateRun(dir),
    `${ckpt(dir)}: tensor "extra.query.backbone.features.0.weight" has shape [4, 1, 3, 3]; the config's model needs [8, 1, 3, 3]`,
  );
  dir = mutated((t) => t['extra.query.backbone.features.0.weight'].data.fill(NaN));
  assert.match(await evaluateRun(dir), `${ckpt(dir)}: tensor "extra.query.backbone.features.0.weight" holds NaN`);
});

test('a NaN loss stops training naming the step, the epoch and the last good checkpoint', async () => {
  const dir = path.join(tmp, 'nan');
  const msg = await failure(() => train([...tiny(dir, 2), '--lr', '1e30']));
  assert.match(msg, /^wgrad-moco train: the loss is (NaN|Infinity|-Infinity) at step \d of epoch \d \(global step \d+\); training stopped/);
  assert.match(msg, /(no checkpoint was written yet|the last good checkpoint is .*checkpoint\.safetensors \(after epoch 1\))/);
  assert.match(msg, 'Run again with --detect-anomaly');
});

test('--out naming a file is refused before the dataset loads', async () => {
  const file = path.join(tmp, 'a-file');
  fs.writeFileSync(file, 'x');
  const t0 = Date.now();
  const msg = await failure(() => train(tiny(file, 1)));
  assert.is(msg, `wgrad-moco train: --out ${file} is a file; it must name a directory (the run's log, checkpoint and plot go there)`);
  assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
  assert.match(await failure(() => train(tiny(path.join(file, 'sub'), 1))), 'cannot be created (ENOTDIR)');
  assert.match(await failure(() => train([...tiny(path.join(tmp, 'j'), 1), '--json', tmp])), `--json ${tmp} is a directory`);
});

type Outcome = { ok: true } | { error: unknown } | { timeout: true };

async function attempt(f: () => Promise<unknown>, ms: number): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Outcome>((resolve) => (timer = setTimeout(() => resolve({ timeout: true }), ms)));
  const run = quietly(f).then(
    (): Outcome => ({ ok: true }),
    (error): Outcome => ({ error }),
  );
  try {
    return await Promise.race([run, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const bytesOf = (t: TensorData) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
const untimed = (records: string) =>
  JSON.parse(records).map(({ seconds: _s, imagesPerSecond: _i, ...rest }: Record<string, unknown>) => rest);

/** Differences between a resumed run's final checkpoint and the uninterrupted run's. */
function differences(file: string): string[] {
  const [A, B] = [decodeSafetensors(fs.readFileSync(ckpt(dirA))), decodeSafetensors(fs.readFileSync(file))];
  const out = Object.keys(A.tensors).filter((k) => !B.tensors[k] || !bytesOf(A.tensors[k]).equals(bytesOf(B.tensors[k])));
  for (const k of ['wgrad.epoch', 'moco.queuePtr', 'wgrad.rng', 'wgrad.optimizer']) if (A.metadata[k] !== B.metadata[k]) out.push(k);
  if (JSON.stringify(untimed(A.metadata['moco.records'])) !== JSON.stringify(untimed(B.metadata['moco.records']))) out.push('moco.records');
  return out;
}

test('fuzz: a mutated checkpoint resumes bit for bit or fails naming the file and the key (resume and evaluate)', async () => {
  const seed = Number(process.env.WGRAD_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const count = Number(process.env.WGRAD_FUZZ_CASES ?? 200);
  console.log(`  checkpoint fuzz: seed ${seed}, ${count} cases (WGRAD_FUZZ_SEED=${seed} WGRAD_FUZZ_CASES=${count} reproduces them)`);
  const problems: string[] = [];
  const t0 = Date.now();
  let i = 0;
  let resumed = 0;
  for (const c of checkpointMutations(epoch1, seed, count)) {
    const dir = path.join(tmp, `fuzz${i}`);
    fs.mkdirSync(dir);
    fs.writeFileSync(ckpt(dir), c.bytes);
    const viaEvaluate = i % 4 === 3 && !c.unchanged;
    const outcome = await attempt(
      () => (viaEvaluate ? evaluate(['--out', dir, '--probe-epochs', '0']) : train([...tiny(dir, 2), '--resume'])),
      120_000,
    );
    const where = `case ${i} (${viaEvaluate ? 'evaluate' : '--resume'}, ${c.what})`;
    if ('timeout' in outcome) problems.push(`${where}: no answer within 120 s`);
    else if ('ok' in outcome) {
      if (!c.unchanged) problems.push(`${where}: succeeded on a changed checkpoint`);
      else {
        resumed++;
        const diff = differences(ckpt(dir));
        if (diff.length) problems.push(`${where}: resumed but differs from the uninterrupted run in ${diff.join(', ')}`);
      }
    } else {
      const e = outcome.error as Error;
      const typed = e instanceof Error && (e.constructor === Error || e.name === 'CheckpointError');
      if (!typed) problems.push(`${where}: untyped exception ${e?.constructor?.name}: ${e?.message ?? e}`);
      else if (c.unchanged) problems.push(`${where}: an unchanged checkpoint failed: ${e.message}`);
      else if (!e.message.includes(ckpt(dir)) || !c.keys.some((k) => e.message.includes(k))) {
        problems.push(`${where}: the message does not name the file and one of ${c.keys.join(', ')}: ${e.message}`);
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
    i++;
  }
  console.log(
    `  checkpoint fuzz: ${i} cases in ${((Date.now() - t0) / 1000).toFixed(1)} s, ${resumed} unchanged resumed bit for bit, ${problems.length} problems`,
  );
  assert.equal(problems, [], `seed ${seed}:\n${problems.join('\n')}`);
});

test('a stale lock and temp file of a killed run are taken over and removed; resuming then matches the uninterrupted run', async () => {
  const lock = JSON.parse(fs.readFileSync(path.join(dirB, LOCK_NAME), 'utf8'));
  const temps = () => fs.readdirSync(dirB).filter((f) => f.includes('.tmp-'));
  assert.is(temps().length, 1, 'the killed write left its temp file');
  const live = path.join(dirB, `checkpoint.safetensors.tmp-${process.pid}-livewriter`); // a writer still alive
  fs.writeFileSync(live, 'in flight');
  const r = await runCli([...tinyTrainArgs(dirB, 2), '--resume']);
  assert.is(r.code, 0, explain(r));
  assert.match(r.stdout, `took over ${path.join(dirB, LOCK_NAME)}: process ${lock.pid}`);
  assert.equal(temps(), [path.basename(live)], 'only the live writer’s temp file is left');
  assert.not.ok(fs.existsSync(path.join(dirB, LOCK_NAME)), 'the lock is released at exit');
  const [A, B] = [decodeSafetensors(fs.readFileSync(ckpt(dirA))), decodeSafetensors(fs.readFileSync(ckpt(dirB)))];
  for (const k of Object.keys(A.tensors))
    assert.ok(
      Buffer.from(A.tensors[k].data.buffer, A.tensors[k].data.byteOffset, A.tensors[k].data.byteLength).equals(
        Buffer.from(B.tensors[k].data.buffer, B.tensors[k].data.byteOffset, B.tensors[k].data.byteLength),
      ),
      k,
    );
  fs.rmSync(live);
});

test('two train runs on one directory: one proceeds, the other exits non-zero naming the lock holder', async () => {
  const dir = path.join(tmp, 'race');
  const start = () => runCli(tinyTrainArgs(dir, 1));
  const [x, y] = await Promise.all([start(), start()]);
  const [won, lost] = x.code === 0 ? [x, y] : [y, x];
  assert.is(won.code, 0, explain(won));
  assert.is(lost.code, 1, explain(lost));
  assert.match(
    lost.stderr,
    new RegExp(`${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use by another run: process \\d+ \\(wgrad-moco train, started `),
  );
  const log = fs.readFileSync(path.join(dir, 'log.jsonl'), 'utf8').trim().split('\n');
  assert.is(log.length, 1, 'one run wrote the log');
  assert.is(JSON.parse(decodeSafetensors(fs.readFileSync(ckpt(dir))).metadata['wgrad.epoch']), 1);
});

test('loadMoCoRun: a run trained by the CLI code gives the backbone, config and embeddings of the trained model', async () => {
  const dir = path.join(tmp, 'lib');
  const { records } = await quietly(() => train(tiny(dir, 1)));
  const run = await loadMoCoRun(dir);
  assert.is(run.epoch, 1);
  assert.is(run.config.width, 4);
  assert.equal(run.input, { channels: 1, height: 28, width: 28, scale: 255 });
  // Directly: the library's own loadCheckpoint reads the CLI's file (one format); the method loads its state.
  const cfg = parseArgs(tiny(dir, 1), TRAIN_OPTIONS, 'test');
  const { trainSet, testSet } = loadData(cfg);
  const model = buildModel(cfg, buildEncoder(cfg, 1), trainSet.count);
  const loaded = await loadCheckpoint(ckpt(dir), { generators: {} });
  assert.is(loaded.epoch, 1);
  model.loadState({ tensors: loaded.tensors, numbers: JSON.parse(loaded.metadata['moco.numbers']) });
  for (const t of Object.values(loaded.tensors)) t.dispose();
  model.backbone.eval();
  const n = 20;
  const direct = await noGrad(() =>
    tidy(() =>
      model.backbone.forward(
        fromArray(
          toFloat(
            testSet,
            Array.from({ length: n }, (_, i) => i),
          ),
          [n, 1, 28, 28],
        ),
      ),
    ),
  ).toArray();
  const viaRun = await run.embed(testSet.images.subarray(0, n * 28 * 28)).toArray();
  assert.is(viaRun.length, n * run.backbone.featureDim);
  assert.equal(Array.from(viaRun), Array.from(direct), 'embed() equals the directly computed features bit for bit');
  // The browser page's loader (src/moco/run-file.ts) reads the same file.
  const { tensors, metadata } = await loadSafetensors(ckpt(dir));
  const paged = buildModel(cfg, buildEncoder(cfg, 1), trainSet.count);
  const gens = { dataGen: new Generator(0), augGen: new Generator(0), defaultGen: new Generator(0) };
  const back = restoreMocoRun(
    tensors,
    metadata,
    ckpt(dir),
    paged,
    new SGD(paged.parameters(), { lr: cfg.lr, momentum: 0.9, weightDecay: cfg.wd }),
    gens,
  );
  assert.is(back.epoch, 1);
  paged.backbone.eval();
  const viaPage = await noGrad(() =>
    tidy(() =>
      paged.backbone.forward(
        fromArray(
          toFloat(
            testSet,
            Array.from({ length: n }, (_, i) => i),
          ),
          [n, 1, 28, 28],
        ),
      ),
    ),
  ).toArray();
  assert.equal(Array.from(viaPage), Array.from(direct), 'the page loads the same weights');
  // And the embeddings are the trained ones: their kNN is the accuracy train logged.
  const knn = await knnAccuracy(run.embed(trainSet.images), trainSet.labels, run.embed(testSet.images), testSet.labels, {
    k: cfg.knnK,
    t: cfg.knnT,
  });
  assert.is(knn, records[0].knn);
});

test.run();
