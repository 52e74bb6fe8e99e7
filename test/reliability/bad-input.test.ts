// Bad input and faults: every row of the table in docs/RELIABILITY.md is one assertion here.
// Wrong shapes and ranks, NaN/Inf with anomaly detection, disposed tensors, a destroyed or lost
// device, invalid CLI options and values, missing or corrupt dataset files, and checkpoints from
// another configuration or truncated on disk. (Crash safety and device loss during a CLI run:
// crash-resume.test.ts; long runs and determinism: longrun.test.ts.)

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  init,
  shutdown,
  tensor,
  zeros,
  ones,
  crossEntropy,
  batchNorm,
  setAnomalyDetection,
  isAnomalyDetectionEnabled,
  optim,
  sync,
  saveSafetensors,
} from '../../src/index.ts';
import { device } from '../../src/runtime.ts';
import { conv2d } from '../../src/ops/conv.ts';
import { train, buildEncoder, TRAIN_OPTIONS } from '../../src/cli/train.ts';
import { parseArgs } from '../../src/cli/args.ts';
import { saveMocoCheckpoint } from '../../src/cli/checkpoint.ts';
import { MoCo } from '../../src/moco/moco.ts';
import { SGD } from '../../src/optim/sgd.ts';
import { Generator, defaultGenerator } from '../../src/random.ts';
import { FASHION_MNIST_DIR } from '../../src/data/node-files.ts';
import { setup } from '../helpers.ts';
import { runCli, tinyTrainArgs } from './cli.ts';

test.before(setup);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wgrad-bad-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

async function rejection(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a rejection');
}

/** train(argv) in this process with its console output silenced; resolves to the error message. */
async function trainError(argv: string[]): Promise<string> {
  const log = console.log;
  console.log = () => {};
  try {
    return await rejection(() => train(argv));
  } finally {
    console.log = log;
  }
}

// ---- shapes and ranks -----------------------------------------------------------------------------

test('wrong shapes and ranks name the op and the shapes', () => {
  assert.is(
    message(() => zeros([2, 3]).add(zeros([4]))),
    'add: shapes [2, 3] and [4] cannot be broadcast together (dimension -1 is 3 vs 4); make them equal or 1',
  );
  assert.is(
    message(() => zeros([2, 3]).matmul(zeros([4, 5]))),
    'matmul: shapes [2, 3] and [4, 5] are not aligned: 3 (last dim of the first) != 4 (second-to-last dim of the second)',
  );
  assert.is(
    message(() => conv2d(zeros([1, 28, 28]), zeros([4, 1, 3, 3]))),
    'conv2d: input must be 4-D [N, Cin, H, W], got shape [1, 28, 28]',
  );
  assert.ok(
    message(() => conv2d(zeros([2, 3, 8, 8]), zeros([4, 1, 3, 3]))).startsWith(
      'conv2d: channel mismatch: input [2, 3, 8, 8] has 3 channels but weight [4, 1, 3, 3] expects 1',
    ),
  );
  assert.is(
    message(() => batchNorm(zeros([4, 3, 2, 2]), zeros([5]), ones([5]), null, null, { training: true })),
    'batchNorm: runningMean has shape [5], expected [3] for input [4, 3, 2, 2]',
  );
  assert.is(
    message(() => batchNorm(zeros([4]), null, null, null, null, { training: true })),
    'batchNorm: input must be [N, C], [N, C, L] or [N, C, H, W], got shape [4]',
  );
  assert.is(
    message(() => crossEntropy(zeros([4, 3]), tensor([0, 1]))),
    'crossEntropy: targets have shape [2], expected [4] for input [4, 3]',
  );
  assert.is(
    message(() => crossEntropy(zeros([2, 3]), [0, 3])),
    'crossEntropy: target 3 at position 1 is out of range for 3 classes (input [2, 3]); targets must be integers in 0..2',
  );
});

// ---- NaN / Inf and anomaly detection ------------------------------------------------------------

const ANOMALY = 'wgrad anomaly detection: ';

test('without anomaly detection NaN propagates silently; a GPU target out of range gives NaN', async () => {
  assert.is(isAnomalyDetectionEnabled(), false, 'off by default');
  const y = tensor([1, NaN, 3]).mul(2).sum();
  assert.ok(Number.isNaN(await y.item()));
  // Targets in a GPU tensor are not range-checked on the host (that needs a readback).
  assert.ok(Number.isNaN(await crossEntropy(zeros([2, 3]), tensor([0, 7], undefined, { dtype: 'int32' })).item()));
});

test('anomaly detection names the first op producing NaN/Inf, forward and backward', async () => {
  setAnomalyDetection(true);
  try {
    // NaN in the input: the first op that reads it is named, not the later ones.
    const a = tensor([
      [1, NaN, 3],
      [4, 5, 6],
    ])
      .mul(2)
      .add(tensor([1, 2, 3]))
      .sum();
    assert.is(
      await rejection(() => a.item()),
      `${ANOMALY}op 'mulScalar' (inputs [2, 3]; output [2, 3]) produced a non-finite value (NaN or ±Inf); it is the first of the 3 ops checked since the previous readback to do so`,
    );
    // Inf made in the middle of a graph of finite inputs.
    const x = tensor([1, 100, 2]);
    const b = x.mul(1).exp().log();
    assert.is(
      await rejection(() => b.toArray()),
      `${ANOMALY}op 'exp' (inputs [3]; output [3]) produced a non-finite value (NaN or ±Inf); it is the first of the 3 ops checked since the previous readback to do so`,
    );
    // After the error the checks start afresh: finite work reads back normally.
    assert.equal([...(await tensor([1, 2]).mul(3).toArray())], [3, 6]);
    // Backward: d sqrt(x)/dx = 1 / (2 sqrt(x)) is Inf at 0; the forward is finite.
    const z = tensor([0, 4], undefined, { requiresGrad: true });
    const loss = z
      .sqrt()
      .mul(tensor([1, 1]))
      .sum();
    assert.is(await loss.item(), 2);
    loss.backward();
    assert.is(
      await rejection(() => z.grad!.toArray()),
      `${ANOMALY}the backward of 'sqrt' (inputs [2]), in the gradient for input 0 (shape [2]), produced a non-finite value (NaN or ±Inf); it is the first of the 4 ops checked since the previous readback to do so`,
    );
    // An optimizer step that overflows the parameters; sync() checks too.
    const w = tensor([1e19, 1], undefined, { requiresGrad: true });
    const opt = new optim.SGD([w], { lr: 1e20 });
    w.square().sum().backward();
    opt.step();
    assert.is(
      await rejection(() => sync()),
      `${ANOMALY}'SGD.step' (updating a parameter of shape [2] with a gradient of shape [2]) produced a non-finite value (NaN or ±Inf); it is the first of the 5 ops checked since the previous readback to do so`,
    );
    // Out-of-range GPU targets: crossEntropy is named.
    const ce = crossEntropy(zeros([2, 3]), tensor([0, 7], undefined, { dtype: 'int32' }));
    const ceError = await rejection(() => ce.item());
    assert.is(
      ceError,
      `${ANOMALY}op 'mean' (inputs [2]; output []), inside 'crossEntropy', produced a non-finite value (NaN or ±Inf); it is the first of the 2 ops checked since the previous readback to do so`,
    );
  } finally {
    setAnomalyDetection(false);
  }
  assert.ok(Number.isNaN(await tensor([NaN]).mul(1).item()), 'off again: no check');
});

// ---- lifetimes and devices ------------------------------------------------------------------------

test('a tensor used after dispose() says so', async () => {
  const x = tensor([1, 2, 3]);
  x.dispose();
  assert.is(
    message(() => x.add(1)),
    `wgrad: addScalar: tensor #${x.id} (shape [3]) was disposed; keep() it or return it from tidy() to use it later`,
  );
  assert.is(
    await rejection(() => x.toArray()),
    `wgrad: toArray: tensor #${x.id} (shape [3]) was disposed; keep() it or return it from tidy() to use it later`,
  );
});

// ---- CLI options -----------------------------------------------------------------------------------

test('wgrad-moco train --batch -3 exits 1 with the option, the value and the rule', async () => {
  const r = await runCli(['train', '--batch', '-3']);
  assert.is(r.code, 1);
  assert.is(r.stderr.trim(), 'wgrad-moco train: --batch -3: must be >= 2');
});

test('invalid CLI options and values', async () => {
  assert.is(await trainError(['--K', 'abc']), 'wgrad-moco train: --K abc: expected an integer');
  assert.is(await trainError(['--batch', '2.5']), 'wgrad-moco train: --batch 2.5: expected an integer');
  assert.ok((await trainError(['--bogus', '1'])).startsWith('wgrad-moco train: unknown option --bogus. Known: --dataset, --data-dir,'));
  assert.is(await trainError(['--loss', 'foo']), 'wgrad-moco train: --loss foo: expected one of infonce, ntxent, dcl');
  assert.is(await trainError(['--m', '1.5']), 'wgrad-moco train: --m 1.5: must be <= 1');
  assert.is(await trainError(['--epochs']), 'wgrad-moco train: --epochs needs a value (epochs)');
  assert.is(await trainError(['--cosine=maybe']), 'wgrad-moco train: --cosine=maybe: expected true or false (or --cosine / --no-cosine)');
  const out = path.join(tmp, 'opts');
  assert.is(
    await trainError(['--batch', '30', '--bn-splits', '4', '--train-size', '128', '--out', out]),
    'wgrad-moco train: --batch 30 must be divisible by --bn-splits 4',
  );
  assert.is(
    await trainError(['--batch', '32', '--K', '16', '--train-size', '128', '--out', out]),
    'wgrad-moco train: --K 16 must be at least the number of keys enqueued per step (32)',
  );
  assert.is(
    await trainError(['--batch', '256', '--train-size', '128', '--out', out]),
    'wgrad-moco train: --batch 256 is larger than the 128 training images',
  );
  assert.is(
    await trainError(['--resume', '--out', path.join(tmp, 'nothing-here')]),
    `wgrad-moco train --resume: no checkpoint at ${path.join(tmp, 'nothing-here', 'checkpoint.safetensors')}`,
  );
});

// ---- dataset files ---------------------------------------------------------------------------------

test('missing and corrupt dataset files', async () => {
  const empty = path.join(tmp, 'empty');
  fs.mkdirSync(empty);
  const missing = await trainError(['--data-dir', empty]);
  assert.ok(missing.startsWith(`fashion-mnist train set not found; tried:\n  ${empty}/train-images-idx3-ubyte\n`), missing);
  assert.ok(missing.includes(`${empty}/train-labels-idx1-ubyte.gz`) && missing.includes('apt-get install dataset-fashion-mnist'), missing);

  // A download cut short: the gzip stream ends early.
  const cut = path.join(tmp, 'cut');
  fs.mkdirSync(cut);
  const images = fs.readFileSync(path.join(FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz'));
  fs.writeFileSync(path.join(cut, 'train-images-idx3-ubyte.gz'), images.subarray(0, 100_000));
  fs.copyFileSync(path.join(FASHION_MNIST_DIR, 'train-labels-idx1-ubyte.gz'), path.join(cut, 'train-labels-idx1-ubyte.gz'));
  assert.is(
    await trainError(['--data-dir', cut]),
    `${cut}/train-images-idx3-ubyte.gz: corrupt or truncated gzip data (unexpected end of file)`,
  );

  // A complete gzip of a truncated IDX file: the IDX header promises more images than it holds.
  const idx = Buffer.alloc(16 + 3 * 784);
  idx.writeUInt32BE(0x803, 0);
  idx.writeUInt32BE(60000, 4);
  idx.writeUInt32BE(28, 8);
  idx.writeUInt32BE(28, 12);
  fs.writeFileSync(path.join(cut, 'train-images-idx3-ubyte.gz'), gzipSync(idx));
  const short = await trainError(['--data-dir', cut]);
  assert.is(
    short,
    `${cut}/train-images-idx3-ubyte.gz: truncated IDX file: dims [60000, 28, 28] need 47040016 bytes (16 header + 47040000 data), got 2368`,
  );
});

// ---- checkpoints -----------------------------------------------------------------------------------

test('resuming from a checkpoint of another configuration, or truncated on disk', async () => {
  // A real checkpoint of the tiny configuration, written by the CLI's own writer.
  const out = path.join(tmp, 'ckpt');
  fs.mkdirSync(out);
  const argv = tinyTrainArgs(out).slice(1);
  const cfg = parseArgs(argv, TRAIN_OPTIONS, 'test');
  const model = new MoCo({ encoder: buildEncoder(cfg, 1), dim: cfg.dim, K: cfg.K, m: cfg.m, T: cfg.T, mlp: cfg.mlp });
  const opt = new SGD(model.parameters(), { lr: cfg.lr, momentum: 0.9, weightDecay: cfg.wd });
  const gens = { dataGen: new Generator(3), augGen: new Generator(4), defaultGen: defaultGenerator };
  const file = path.join(out, 'checkpoint.safetensors');
  await saveMocoCheckpoint(file, model, opt, gens, {
    epoch: 1,
    records: [{ epoch: 1, loss: 5, accuracy: 0.5, knn: 50, lr: cfg.lr, seconds: 1, imagesPerSecond: 100 }],
    baselines: {},
    config: cfg,
  });

  const other = await trainError([...argv, '--resume', '--width', '8']);
  assert.is(
    other,
    `--resume: the checkpoint ${file} was written with a different configuration:\n  --width: checkpoint 4, now 8\nResume with the original options or start a new --out directory.`,
  );
  // Augmentation is part of the run: a different crop would silently change the resumed epochs.
  const crop = await trainError([...argv, '--resume', '--crop-min', '0.3', '--train-size', '256']);
  assert.is(
    crop,
    `--resume: the checkpoint ${file} was written with a different configuration:\n  --train-size: checkpoint 128, now 256\n  --crop-min: checkpoint 0.5, now 0.3\nResume with the original options or start a new --out directory.`,
  );

  const bytes = fs.readFileSync(file);
  fs.writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
  const half = await trainError([...argv, '--resume']);
  assert.ok(
    /^safetensors: file looks truncated or corrupt: tensor "[\w.]+" data_offsets \[\d+, \d+\] run past the end of the data section, which has only \d+ bytes \(in ".+"\)$/.test(
      half,
    ),
    half,
  );
  fs.writeFileSync(file, bytes.subarray(0, 5));
  assert.is(
    await trainError([...argv, '--resume']),
    `safetensors: file looks truncated or corrupt: expected at least 8 bytes for the header length, found 5 bytes in total (in "${file}")`,
  );
});

// ---- a destroyed or lost device (last: they replace the device) ----------------------------------

test('reading a tensor from a destroyed device, then init() again', async () => {
  const x = tensor([1, 2, 3]);
  shutdown();
  assert.is(
    await rejection(() => x.toArray()),
    'wgrad: toArray: the GPU device was destroyed (wgrad.shutdown()); tensors from it can no longer be used. Call await wgrad.init() to start a new one.',
  );
  assert.is(
    message(() => x.add(1)),
    'wgrad: create tensor: the GPU device was destroyed (wgrad.shutdown()); tensors from it can no longer be used. Call await wgrad.init() to start a new one.',
  );
  await init();
  assert.equal([...(await tensor([1, 2, 3]).add(1).toArray())], [2, 3, 4]);
});

test('a lost device: every use says so, and init() gives a new one', async () => {
  const x = tensor([1, 2, 3]);
  const file = path.join(tmp, 'before-loss.safetensors');
  await saveSafetensors(file, { x });
  const saved = fs.readFileSync(file);
  device().simulateLoss();
  const lost =
    'the GPU device was lost (simulated device loss (test hook)). Tensors on it are gone; call await wgrad.init() for a new device and reload from your last checkpoint.';
  assert.is(await rejection(() => x.toArray()), `wgrad: toArray: ${lost}`);
  assert.is(
    message(() => zeros([2])),
    `wgrad: create tensor: ${lost}`,
  );
  // A checkpoint write during the loss fails while reading the tensors back, before any file is touched.
  assert.is(await rejection(() => saveSafetensors(file, { x })), `wgrad: create tensor: ${lost}`);
  assert.ok(fs.readFileSync(file).equals(saved));
  assert.equal(
    fs.readdirSync(tmp).filter((f) => f.includes('.tmp-')),
    [],
  );
  await init();
  assert.equal([...(await tensor([5]).mul(2).toArray())], [10]);
});

test.run();
