// A wgrad MoCo run handed to PyTorch and back (scripts/torch/convert.py, scripts/torch/main_moco.py):
//   - exported to the official main_moco.py layout, loaded by the PyTorch script into its model and
//     optimizer, saved and imported back: every tensor bit-identical (both encoders, the queue, its
//     pointer, the SGD momentum buffers);
//   - one PyTorch step from that state on a fixed batch (one process, no shuffle) equals wgrad's next
//     step to 1e-4 (loss, query parameters, key parameters, momentum buffers, queue);
//   - `torchrun --nproc_per_node 2` (gloo) continues the run, and its checkpoint resumes in
//     `wgrad-moco train --resume` and evaluates with `wgrad-moco evaluate`.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { setup, randnSeeded, assertClose } from '../helpers.ts';
import { findPythonWithTorch } from '../io/python.ts';
import { skip } from '../skip.ts';
import { runCli, tinyTrainArgs, ROOT } from '../reliability/cli.ts';
import { Tensor, tidy } from '../../src/index.ts';
import { MoCo } from '../../src/moco/moco.ts';
import { SGD } from '../../src/optim/sgd.ts';
import { Generator } from '../../src/random.ts';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.ts';
import { FASHION_MNIST_DIR } from '../../src/data/node-files.ts';
import { TRAIN_OPTIONS, buildEncoder, epochLr, type TrainConfig } from '../../src/cli/train.ts';
import { readMocoCheckpoint, checkMocoTensors, restoreMoco } from '../../src/cli/checkpoint.ts';

test.before(setup);

const SCRIPTS = path.join(ROOT, 'scripts/torch');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wgrad-handoff-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function skipReason(): string | null {
  if (!findPythonWithTorch()) return 'no python3 with torch (apt-get install python3-torch)';
  if (!fs.existsSync(FASHION_MNIST_DIR)) return `no Fashion-MNIST in ${FASHION_MNIST_DIR} (bash scripts/setup.sh --with-data)`;
  return null;
}

function python(script: string, args: string[], env: Record<string, string> = {}): string {
  const r = spawnSync(findPythonWithTorch()!, [path.join(SCRIPTS, script), ...args], {
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, ...env },
  });
  assert.ok(r.status === 0, `${script} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** A checkpoint's tensors and metadata under the first format's names (what scripts/torch writes). */
function readFile(file: string) {
  const { tensors, metadata: m } = decodeSafetensors(new Uint8Array(fs.readFileSync(file)));
  if (m['moco.format'] !== 'wgrad-moco-run/2') return { tensors, metadata: m };
  const opt = JSON.parse(m['wgrad.optimizer']);
  const metadata: Record<string, string> = {
    epoch: m['wgrad.epoch'],
    config: m['wgrad.config'],
    rng: m['wgrad.rng'],
    records: m['moco.records'],
    baselines: m['moco.baselines'],
    queuePtr: String(JSON.parse(m['moco.numbers']).queuePtr),
    methodNumbers: m['moco.numbers'],
    optimizerGroups: JSON.stringify(opt.paramGroups),
  };
  return { tensors: Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k.replace(/^extra\./, ''), t])), metadata };
}

/** A wgrad run of 3 epochs stopped after epoch 1 (the crash hook kills it before epoch 2's checkpoint). */
const run = path.join(tmp, 'wgrad');
/** K 80 does not divide the 128 keys of an epoch, so the queue pointer is not back at 0. */
const extra = ['--bn-splits', '2', '--K', '80'];
const args = [...tinyTrainArgs(run, 3), ...extra];
let ready: string | null | undefined;
async function wgradRun(): Promise<string | null> {
  if (ready !== undefined) return ready;
  ready = skipReason();
  if (ready) return ready;
  const r = await runCli(args, { WGRAD_TEST_CRASH_BEFORE_RENAME: '2' });
  assert.is(r.signal, 'SIGKILL', `the run should stop at epoch 2's checkpoint:\n${r.stdout}\n${r.stderr}`);
  assert.is(readFile(path.join(run, 'checkpoint.safetensors')).metadata.epoch, '1');
  python('convert.py', ['export', path.join(run, 'checkpoint.safetensors'), path.join(tmp, 'run.pth.tar')]);
  return null;
}

test('export → PyTorch script → import: every tensor bit-identical', async () => {
  const missing = await wgradRun();
  if (missing) return skip(missing);
  // --epochs 1 = the run's epoch: main_moco.py loads model and optimizer, trains nothing, saves.
  python('main_moco.py', ['--resume', path.join(tmp, 'run.pth.tar'), '--out', path.join(tmp, 'noop'), '--epochs', '1']);
  const back = path.join(tmp, 'back.safetensors');
  python('convert.py', ['import', path.join(tmp, 'noop/checkpoint.pth.tar'), back]);
  const a = readFile(path.join(run, 'checkpoint.safetensors'));
  const b = readFile(back);
  assert.equal(Object.keys(b.tensors).sort(), Object.keys(a.tensors).sort(), 'same tensor names');
  const kinds = { query: 0, key: 0, queue: 0, optimizer: 0 };
  for (const [name, t] of Object.entries(a.tensors)) {
    assert.equal(b.tensors[name].shape, t.shape, `${name}: shape`);
    const [x, y] = [
      new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length),
      new Uint32Array(b.tensors[name].data.buffer, b.tensors[name].data.byteOffset, t.data.length),
    ];
    const diff = x.findIndex((v, i) => v !== y[i]);
    assert.is(diff, -1, `${name}: element ${diff} differs (${t.data[diff]} vs ${b.tensors[name].data[diff]})`);
    kinds[name.split('.')[0] as keyof typeof kinds]++;
  }
  assert.ok(kinds.query > 10 && kinds.key === kinds.query && kinds.queue === 1 && kinds.optimizer > 10, JSON.stringify(kinds));
  for (const k of ['epoch', 'methodNumbers', 'config', 'rng', 'records', 'baselines', 'optimizerGroups'])
    assert.is(b.metadata[k], a.metadata[k], `metadata ${k}`);
  assert.ok(JSON.parse(a.metadata.methodNumbers).queuePtr > 0, 'the queue pointer has moved');
});

async function host(t: Tensor): Promise<Float32Array> {
  return t.toArray();
}

test('one PyTorch step on a fixed batch (no shuffle) equals wgrad’s next step to 1e-4', async () => {
  const missing = await wgradRun();
  if (missing) return skip(missing);
  const file = path.join(run, 'checkpoint.safetensors');
  const saved = await readMocoCheckpoint(file, TRAIN_OPTIONS);
  const cfg = saved.config as TrainConfig;
  const model = new MoCo({ encoder: buildEncoder(cfg, 1), dim: cfg.dim, K: cfg.K, m: cfg.m, T: cfg.T, mlp: cfg.mlp, shuffleBN: false });
  const opt = new SGD(model.parameters(), { lr: cfg.lr, momentum: 0.9, weightDecay: cfg.wd });
  checkMocoTensors(saved, model, opt, { lr: epochLr(cfg, saved.epoch - 1), numbers: null });
  restoreMoco(saved, model, opt, { dataGen: new Generator(1), augGen: new Generator(2), defaultGen: new Generator(3) });
  const xq = randnSeeded([cfg.batch, 1, 28, 28], 5).mul(0.3).add(0.5);
  const xk = randnSeeded([cfg.batch, 1, 28, 28], 6).mul(0.3).add(0.5);
  const views = path.join(tmp, 'views.safetensors');
  fs.writeFileSync(
    views,
    encodeSafetensors({ xq: { data: await xq.toArray(), shape: xq.shape }, xk: { data: await xk.toArray(), shape: xk.shape } }),
  );

  model.train();
  const loss = tidy(() => {
    const out = model.step(xq, xk);
    out.loss.backward();
    opt.step();
    opt.zeroGrad();
    return out.loss.detach();
  });
  const wgradLoss = await loss.item();

  const stdout = python('main_moco.py', [
    '--resume',
    path.join(tmp, 'run.pth.tar'),
    '--out',
    path.join(tmp, 'step'),
    '--fixed-batch',
    views,
  ]);
  const torchLoss = JSON.parse(stdout.trim().split('\n').pop()!).loss as number;
  python('convert.py', ['import', path.join(tmp, 'step/checkpoint.pth.tar'), path.join(tmp, 'step.safetensors')]);
  const ref = readFile(path.join(tmp, 'step.safetensors'));
  console.log(`  loss wgrad ${wgradLoss.toFixed(6)}, PyTorch ${torchLoss.toFixed(6)}`);
  assertClose([wgradLoss], [torchLoss], 1e-4, 'loss');
  let n = 0;
  for (const [name, t] of Object.entries(model.encoderQ.stateDict()))
    (assertClose(await host(t), ref.tensors[`query.${name}`].data, 1e-4, `query.${name}`), n++);
  for (const [name, t] of Object.entries(model.momentum.key.stateDict()))
    assertClose(await host(t), ref.tensors[`key.${name}`].data, 1e-4, `key.${name}`);
  const state = opt.stateDict().state;
  for (const [i, s] of Object.entries(state))
    assertClose(await host(s.momentumBuffer as Tensor), ref.tensors[`optimizer.${i}.momentumBuffer`].data, 1e-4, `momentum buffer ${i}`);
  assertClose(await model.queue.snapshot(), ref.tensors.queue.data, 1e-4, 'queue');
  assert.is(JSON.parse(ref.metadata.methodNumbers).queuePtr, model.queue.ptr, 'queue pointer');
  assert.ok(n > 10);
});

test('torchrun --nproc_per_node 2 (gloo) continues the run; wgrad resumes and evaluates its checkpoint', async () => {
  const missing = await wgradRun();
  if (missing) return skip(missing);
  const torchrun = path.join(path.dirname(findPythonWithTorch()!), 'torchrun');
  if (!fs.existsSync(torchrun)) return skip(`${torchrun} not found`);
  const ddp = path.join(tmp, 'ddp');
  // --redirects/--tee 1: Debian's torch 1.13 on Python 3.11 cannot parse torchrun's default "0".
  const r = spawnSync(
    torchrun,
    [
      '--redirects',
      '1',
      '--tee',
      '1',
      '--nproc_per_node',
      '2',
      path.join(SCRIPTS, 'main_moco.py'),
      '--resume',
      path.join(tmp, 'run.pth.tar'),
      '--out',
      ddp,
      '--epochs',
      '2',
      '--max-steps',
      '2',
      '--threads',
      '1',
    ],
    { encoding: 'utf8', timeout: 300_000, env: { ...process.env, OMP_NUM_THREADS: '1' } },
  );
  assert.ok(r.status === 0, `torchrun failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /2 process\(es\).*shuffle ddp/);
  assert.match(r.stdout, /epoch 2: loss \d/);
  const out = path.join(tmp, 'imported');
  python('convert.py', ['import', path.join(ddp, 'checkpoint.pth.tar'), path.join(out, 'checkpoint.safetensors')]);
  const imported = readFile(path.join(out, 'checkpoint.safetensors'));
  assert.is(imported.metadata.epoch, '2');
  const records = JSON.parse(imported.metadata.records);
  assert.is(records.length, 2);
  assert.is(records[1].engine, 'pytorch-ddp-2');
  assert.ok(Number.isFinite(records[1].loss) && Number.isFinite(records[1].knn), JSON.stringify(records[1]));

  const resumed = await runCli([...tinyTrainArgs(out, 3), ...extra, '--resume']);
  assert.is(resumed.code, 0, `wgrad-moco train --resume failed:\n${resumed.stdout}\n${resumed.stderr}`);
  assert.match(resumed.stdout, /resumed from .* after epoch 2/);
  assert.match(resumed.stdout, /epoch 3: loss \d/);
  const evaluated = await runCli(['evaluate', '--out', out, '--probe-epochs', '0']);
  assert.is(evaluated.code, 0, `wgrad-moco evaluate failed:\n${evaluated.stdout}\n${evaluated.stderr}`);
  const ev = JSON.parse(fs.readFileSync(path.join(out, 'evaluation.json'), 'utf8'));
  assert.is(ev.checkpointEpoch, 3);
  const last = JSON.parse(readFile(path.join(out, 'checkpoint.safetensors')).metadata.records).pop();
  assert.is(ev.knn, last.knn, 'evaluate reproduces the kNN monitor of the last epoch');
});

test('scripts/torch reads F16 and BF16 safetensors (converted PyTorch checkpoints) as float32', () => {
  const py = findPythonWithTorch();
  if (!py) return skip('no python3 with torch (apt-get install python3-torch)');
  // 1.5, -2, 65504 (largest f16), 2^-24 (smallest f16 subnormal) in F16; 1.5, -2, 3.0e38 in BF16.
  const f16 = new Uint16Array([0x3e00, 0xc000, 0x7bff, 0x0001]);
  const bf16 = new Uint16Array([0x3fc0, 0xc000, 0x7f61]);
  const header = JSON.stringify({
    h: { dtype: 'F16', shape: [4], data_offsets: [0, 8] },
    b: { dtype: 'BF16', shape: [3], data_offsets: [8, 14] },
  });
  const head = new TextEncoder().encode(header);
  const bytes = new Uint8Array(8 + head.length + 14);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(head.length), true);
  bytes.set(head, 8);
  bytes.set(new Uint8Array(f16.buffer), 8 + head.length);
  bytes.set(new Uint8Array(bf16.buffer), 16 + head.length);
  const file = path.join(tmp, 'half.safetensors');
  fs.writeFileSync(file, bytes);
  const code = `import sys, json; sys.path.insert(0, ${JSON.stringify(SCRIPTS)}); import wgrad_torch as wt
t, _ = wt.read_safetensors(${JSON.stringify(file)}); print(json.dumps({k: [float(x) for x in v] for k, v in t.items()}))`;
  const r = spawnSync(py, ['-c', code], { encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  assert.equal(got.h, [1.5, -2, 65504, 2 ** -24]);
  assert.equal(got.b, [1.5, -2, new Float32Array(new Uint32Array([0x7f610000]).buffer)[0]]);
});

test.run();
