// `wgrad-moco train --method nnclr|mocov3|simclr` end to end in child processes: for NNCLR and
// MoCo v3 a tiny 2-epoch run (A) against the same run stopped after epoch 1 (simulated device loss
// at the first step of epoch 2) and resumed (B): B's final network, key encoder / support set,
// optimizer state, RNG and log must equal A's bit for bit. SimCLR trains; options of other
// methods are refused.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadSafetensorsFile } from '../../src/io/node-files.ts';
import { runCli, tinyTrainArgs, type CliResult } from './cli.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wgrad-methods-'));
const ckpt = (dir: string) => path.join(dir, 'checkpoint.safetensors');
const explain = (r: CliResult) => `exit ${r.code} signal ${r.signal}\nstdout:\n${r.stdout.slice(-2000)}\nstderr:\n${r.stderr.slice(-2000)}`;
const untimed = (records: Record<string, unknown>[]) => records.map(({ seconds: _s, imagesPerSecond: _i, ...rest }) => rest);
const bytes = (t: { data: Float32Array | Int32Array }) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
const methodArgs = (method: string, dir: string, epochs = 2) => [
  ...tinyTrainArgs(dir, epochs),
  '--method',
  method,
  '--support-set-size',
  '64',
];

test.after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

for (const method of ['nnclr', 'mocov3']) {
  test(`train --method ${method}: --resume after epoch 1 reproduces the uninterrupted run bit for bit`, async () => {
    const [dirA, dirB] = [path.join(tmp, `${method}-A`), path.join(tmp, `${method}-B`)];
    const runA = runCli(methodArgs(method, dirA));
    // 128 images / batch 32 = 4 steps per epoch: global step 4 is the first of epoch 2.
    const stopped = await runCli(methodArgs(method, dirB), { WGRAD_TEST_LOSE_DEVICE_AT_STEP: '4' });
    assert.is(stopped.code, 1, explain(stopped));
    const e1 = await loadSafetensorsFile(ckpt(dirB));
    assert.is(e1.metadata['wgrad.epoch'], '1');
    const resumed = await runCli([...methodArgs(method, dirB), '--resume']);
    assert.is(resumed.code, 0, explain(resumed));
    assert.ok(resumed.stdout.includes('after epoch 1'), explain(resumed));
    const a = await runA;
    assert.is(a.code, 0, explain(a));
    const A = await loadSafetensorsFile(ckpt(dirA));
    const B = await loadSafetensorsFile(ckpt(dirB));
    assert.equal(Object.keys(B.tensors).sort(), Object.keys(A.tensors).sort());
    if (method === 'nnclr') {
      assert.equal(A.tensors['extra.supportSet'].shape, [64, 16], 'the checkpoint holds the support set');
      assert.equal(
        JSON.parse(A.metadata['moco.numbers']),
        { supportSetPtr: 0, supportSetFilled: 64 },
        '8 steps of 32 filled the set of 64',
      );
      assert.not.ok(bytes(A.tensors['extra.supportSet']).equals(bytes(e1.tensors['extra.supportSet'])), 'epoch 2 changed the support set');
    } else {
      assert.ok(
        Object.keys(A.tensors).some((k) => k.startsWith('extra.key.projector.')),
        'the checkpoint holds the momentum encoder',
      );
      assert.ok(
        Object.keys(A.tensors).some((k) => k.startsWith('extra.query.predictor.')),
        'and the predictor',
      );
    }
    const differing = Object.keys(A.tensors).filter((k) => !bytes(A.tensors[k]).equals(bytes(B.tensors[k])));
    assert.equal(differing, [], `tensors differing from the uninterrupted run: ${differing.join(', ')}`);
    for (const key of ['wgrad.epoch', 'wgrad.rng', 'wgrad.optimizer', 'moco.numbers']) assert.is(B.metadata[key], A.metadata[key], key);
    assert.equal(untimed(JSON.parse(B.metadata['moco.records'])), untimed(JSON.parse(A.metadata['moco.records'])));
    assert.is(JSON.parse(A.metadata['wgrad.config']).method, method);
  });
}

test('--method simclr trains (NT-Xent over in-batch views); --resume with another --method and --mechanism with nnclr are refused', async () => {
  const dir = path.join(tmp, 'simclr');
  const [simclr, mixed] = await Promise.all([
    runCli(methodArgs('simclr', dir, 1)),
    runCli([...methodArgs('nnclr', path.join(tmp, 'mixed'), 1), '--mechanism', 'memory-bank']),
  ]);
  assert.is(simclr.code, 0, explain(simclr));
  const loss = Number(/epoch 1: loss ([\d.]+)/.exec(simclr.stdout)?.[1]);
  // 2N − 1 = 63 candidates per view: chance level ln 63 ≈ 4.14.
  assert.ok(loss > 2 && loss < 4.3, `SimCLR loss ${loss}`);
  assert.is(mixed.code, 1, explain(mixed));
  assert.ok(mixed.stderr.includes('--mechanism applies to --method moco only'), explain(mixed));
  const other = await runCli([...methodArgs('nnclr', dir, 1), '--resume']);
  assert.is(other.code, 1, explain(other));
  assert.ok(other.stderr.includes('--method: checkpoint "simclr", now "nnclr"'), explain(other));
});

test.run();
