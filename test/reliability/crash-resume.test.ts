// Crash safety and device loss of `wgrad-moco train`, end to end in child processes:
//   A  an uninterrupted 2-epoch run (in the background, while B runs);
//   B1 the same run, with the GPU device lost in epoch 2 (WGRAD_TEST_LOSE_DEVICE_AT_STEP):
//      it must stop with a clear message, non-zero, leaving the epoch-1 checkpoint;
//   B2 --resume, SIGKILLed while writing the epoch-2 checkpoint, between the temp file and the
//      rename (WGRAD_TEST_CRASH_BEFORE_RENAME): the epoch-1 checkpoint must survive, byte for byte;
//   B3 --resume to the end: every tensor of the final checkpoint (both encoders with BN running
//      statistics, queue, optimizer momentum), the RNG states, the queue pointer and the log
//      must equal A's bit for bit.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadSafetensorsFile } from '../../src/io/node-files.ts';
import { runCli, tinyTrainArgs, type CliResult } from './cli.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wgrad-crash-'));
const dirA = path.join(tmp, 'A');
const dirB = path.join(tmp, 'B');
const ckpt = (dir: string) => path.join(dir, 'checkpoint.safetensors');
let runA: Promise<CliResult>;
let afterLoss: Buffer;

function explain(r: CliResult): string {
  return `exit ${r.code} signal ${r.signal}\nstdout:\n${r.stdout.slice(-2000)}\nstderr:\n${r.stderr.slice(-2000)}`;
}

/** The epoch records without the timing fields, which differ from run to run. */
function untimed(records: Record<string, unknown>[]): unknown[] {
  return records.map(({ seconds: _s, imagesPerSecond: _i, ...rest }) => rest);
}
const logRecords = (dir: string) =>
  fs
    .readFileSync(path.join(dir, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

test.before(() => {
  runA = runCli(tinyTrainArgs(dirA, 2));
});

test.after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('device lost mid-run: training stops non-zero naming the lost device; the last checkpoint loads', async () => {
  // 128 images / batch 32 = 4 steps per epoch: global step 6 is in the middle of epoch 2.
  const r = await runCli(tinyTrainArgs(dirB, 2), { WGRAD_TEST_LOSE_DEVICE_AT_STEP: '6' });
  assert.is(r.code, 1, explain(r));
  assert.ok(r.stderr.includes('the GPU device was lost (simulated device loss (test hook))'), explain(r));
  assert.ok(r.stderr.includes('run the same command with --resume'), explain(r));
  const saved = await loadSafetensorsFile(ckpt(dirB));
  assert.is(saved.metadata['wgrad.epoch'], '1');
  assert.is(JSON.parse(saved.metadata['moco.records']).length, 1);
  for (const [name, t] of Object.entries(saved.tensors)) assert.ok(t.data.every(Number.isFinite), `${name} is finite`);
  assert.is(logRecords(dirB).length, 1);
  afterLoss = fs.readFileSync(ckpt(dirB));
});

test('SIGKILL between writing the temp file and the rename leaves the previous checkpoint intact', async () => {
  const r = await runCli([...tinyTrainArgs(dirB, 2), '--resume'], { WGRAD_TEST_CRASH_BEFORE_RENAME: '2' });
  assert.ok(r.signal === 'SIGKILL' || r.code === 137, explain(r));
  assert.ok(r.stdout.includes('resumed from') && r.stdout.includes('after epoch 1'), explain(r));
  assert.ok(r.stdout.includes('epoch 2: loss'), 'the resumed run finished epoch 2 before its checkpoint write was killed');
  const files = fs.readdirSync(dirB);
  const temp = files.filter((f) => f.startsWith('checkpoint.safetensors.tmp-'));
  assert.is(temp.length, 1, `the killed write left its temp file: ${files}`);
  assert.ok(fs.statSync(path.join(dirB, temp[0])).size > 0);
  assert.ok(fs.readFileSync(ckpt(dirB)).equals(afterLoss), 'the epoch-1 checkpoint is byte-for-byte unchanged');
  const saved = await loadSafetensorsFile(ckpt(dirB)); // and still decodes
  assert.is(saved.metadata['wgrad.epoch'], '1');
  // The crash came after the epoch-2 log line was appended: the log is ahead of the checkpoint.
  assert.is(logRecords(dirB).length, 2);
});

test('resuming reproduces the uninterrupted run bit for bit (tensors, RNG, queue pointer, log)', async () => {
  const r = await runCli([...tinyTrainArgs(dirB, 2), '--resume']);
  assert.is(r.code, 0, explain(r));
  assert.ok(r.stdout.includes('after epoch 1'), explain(r));
  const a = await runA;
  assert.is(a.code, 0, explain(a));
  assert.not.ok(
    fs.readdirSync(dirB).some((f) => f.includes('.tmp-')),
    'the next successful write removed the stale temp file',
  );

  const A = await loadSafetensorsFile(ckpt(dirA));
  const B = await loadSafetensorsFile(ckpt(dirB));
  assert.equal(Object.keys(B.tensors).sort(), Object.keys(A.tensors).sort());
  assert.ok(
    Object.keys(A.tensors).some((k) => k.startsWith('extra.key.') && k.endsWith('running_var')),
    'key encoder BN statistics are saved',
  );
  assert.ok(
    Object.keys(A.tensors).some((k) => k.startsWith('optimizer.')),
    'optimizer momentum is saved',
  );
  const differing = Object.keys(A.tensors).filter(
    (k) =>
      !Buffer.from(A.tensors[k].data.buffer, A.tensors[k].data.byteOffset, A.tensors[k].data.byteLength).equals(
        Buffer.from(B.tensors[k].data.buffer, B.tensors[k].data.byteOffset, B.tensors[k].data.byteLength),
      ),
  );
  assert.equal(differing, [], `tensors differing from the uninterrupted run: ${differing.join(', ')}`);
  for (const key of ['wgrad.epoch', 'moco.queuePtr', 'wgrad.rng', 'wgrad.optimizer']) assert.is(B.metadata[key], A.metadata[key], key);
  const recA = untimed(JSON.parse(A.metadata['moco.records']));
  assert.is(recA.length, 2);
  assert.equal(untimed(JSON.parse(B.metadata['moco.records'])), recA);
  assert.equal(untimed(logRecords(dirB)), untimed(logRecords(dirA)), 'log.jsonl');
  assert.equal(untimed(logRecords(dirA)), recA);
});

test.run();
