// `wgrad-moco train --mechanism memory-bank` end to end in child processes: a tiny 2-epoch run
// (A, in the background) against the same run stopped after epoch 1 (simulated device loss at the
// first step of epoch 2) and resumed (B). The checkpoint must hold the memory bank (unit rows, one
// per training image, changed by training), and B's final bank, encoders, optimizer state, RNG and
// log must equal A's bit for bit. Plus: --mechanism end-to-end runs, and --resume refuses a
// checkpoint of another mechanism.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadSafetensorsFile } from '../../src/io/node-files.ts';
import { runCli, tinyTrainArgs, type CliResult } from './cli.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wgrad-bank-'));
const dirA = path.join(tmp, 'A');
const dirB = path.join(tmp, 'B');
const ckpt = (dir: string) => path.join(dir, 'checkpoint.safetensors');
const bankArgs = (dir: string) => [...tinyTrainArgs(dir, 2), '--mechanism', 'memory-bank'];
const dirE = path.join(tmp, 'E');
let runA: Promise<CliResult>;
let runE: Promise<CliResult>;
let refused: Promise<CliResult>;

const explain = (r: CliResult) => `exit ${r.code} signal ${r.signal}\nstdout:\n${r.stdout.slice(-2000)}\nstderr:\n${r.stderr.slice(-2000)}`;
const untimed = (records: Record<string, unknown>[]) => records.map(({ seconds: _s, imagesPerSecond: _i, ...rest }) => rest);
const bytes = (t: { data: Float32Array | Int32Array }) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);

test.before(() => {
  runA = runCli(bankArgs(dirA));
  runE = runCli([...tinyTrainArgs(dirE, 1), '--mechanism', 'end-to-end']);
});

test.after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('train --mechanism memory-bank: the epoch-1 checkpoint holds the bank; --resume reproduces the uninterrupted run bit for bit', async () => {
  // 128 images / batch 32 = 4 steps per epoch: global step 4 is the first of epoch 2.
  const stopped = await runCli(bankArgs(dirB), { WGRAD_TEST_LOSE_DEVICE_AT_STEP: '4' });
  assert.is(stopped.code, 1, explain(stopped));
  assert.ok(stopped.stdout.includes('epoch 1: loss'), explain(stopped));
  const e1 = await loadSafetensorsFile(ckpt(dirB));
  assert.is(e1.metadata['wgrad.epoch'], '1');
  const bank = e1.tensors['extra.memoryBank'];
  assert.ok(bank, 'the checkpoint has the memory bank');
  assert.equal(bank.shape, [128, 16], 'one row per training image, dim 16');
  for (let r = 0; r < 128; r++) {
    let s = 0;
    for (let d = 0; d < 16; d++) s += bank.data[r * 16 + d] ** 2;
    assert.ok(Math.abs(Math.sqrt(s) - 1) < 1e-4, `row ${r} has norm ${Math.sqrt(s)}`);
  }

  // Resuming with another mechanism fails before anything is written (and before the resume: one
  // writer per run directory, so the two cannot run side by side).
  refused = runCli([...tinyTrainArgs(dirB, 2), '--mechanism', 'queue', '--resume']);
  await refused;
  const resumed = await runCli([...bankArgs(dirB), '--resume']);
  assert.is(resumed.code, 0, explain(resumed));
  assert.ok(resumed.stdout.includes('after epoch 1'), explain(resumed));
  const a = await runA;
  assert.is(a.code, 0, explain(a));
  const A = await loadSafetensorsFile(ckpt(dirA));
  const B = await loadSafetensorsFile(ckpt(dirB));
  assert.equal(Object.keys(B.tensors).sort(), Object.keys(A.tensors).sort());
  assert.not.ok(bytes(A.tensors['extra.memoryBank']).equals(bytes(bank)), 'epoch 2 changed the bank');
  const differing = Object.keys(A.tensors).filter((k) => !bytes(A.tensors[k]).equals(bytes(B.tensors[k])));
  assert.equal(differing, [], `tensors differing from the uninterrupted run: ${differing.join(', ')}`);
  for (const key of ['wgrad.epoch', 'wgrad.rng', 'wgrad.optimizer']) assert.is(B.metadata[key], A.metadata[key], key);
  assert.equal(untimed(JSON.parse(B.metadata['moco.records'])), untimed(JSON.parse(A.metadata['moco.records'])));
  assert.is(JSON.parse(A.metadata['wgrad.config']).mechanism, 'memory-bank');
});

test('--resume with another --mechanism is refused; --mechanism end-to-end trains', async () => {
  const other = await refused;
  assert.is(other.code, 1, explain(other));
  assert.ok(other.stderr.includes('--mechanism: checkpoint "memory-bank", now "queue"'), explain(other));
  const e2e = await runE;
  assert.is(e2e.code, 0, explain(e2e));
  const loss = Number(/epoch 1: loss ([\d.]+)/.exec(e2e.stdout)?.[1]);
  // In-batch negatives: chance level is ln(batch) = ln 32 ≈ 3.47, not ln(K+1).
  assert.ok(loss > 0.5 && loss < 5, `end-to-end loss ${loss}`);
  const saved = await loadSafetensorsFile(ckpt(dirE));
  assert.not.ok('memoryBank' in saved.tensors);
});

test.run();
