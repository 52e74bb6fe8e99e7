// The package as a user gets it: `npm pack` (its prepack script builds dist/), then, in an empty
// project outside this repository, `npm install <tgz>` from the npm cache, and
//   (a) a plain .mjs script imports wgrad, inits (kernels found in the installed package) and
//       computes a gradient, checked against the closed form in float64;
//   (b) a .ts file is type-checked against the installed .d.ts files (strict, no skipLibCheck,
//       no @types/node), with a @ts-expect-error line that fails if the types were `any`;
//   (c) `npx wgrad-moco help` runs the CLI from dist/;
//   (f) a tiny `npx wgrad-moco train` run is loaded with loadMoCoRun and its embeddings give the
//       kNN accuracy the run logged.
// Takes about a minute (the build, and installing `webgpu`, which is large). Set WGRAD_KEEP_TMP=1
// to keep the temporary folder for a look.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findPythonWithTorch, runPython } from './io/python.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'wgrad-package-'));
const app = join(tmp, 'app');
const stage = join(tmp, 'wgrad'); // what `npm pack` runs in
let tgz = '';

/** Runs a command; on failure throws with the command, exit status, time and the output's tail. */
function run(cmd: string, args: string[], cwd: string, timeoutS: number): string {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    timeout: timeoutS * 1000,
    maxBuffer: 64 << 20,
    env: {
      ...process.env,
      XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp',
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_update_notifier: 'false',
    },
  });
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (r.error || r.status !== 0) {
    const why = r.error ? `${r.error.message}${r.signal ? ` (${r.signal}; limit ${timeoutS} s)` : ''}` : `exit ${r.status}`;
    const tail = (s: string | null) => (s ?? '').split('\n').slice(-40).join('\n');
    throw new Error(
      `\`${cmd} ${args.join(' ')}\` in ${cwd} failed after ${secs} s: ${why}\n--- stdout:\n${tail(r.stdout)}\n--- stderr:\n${tail(r.stderr)}`,
    );
  }
  return r.stdout;
}

const USER_PROGRAM = `
// A PyTorch user's program, written only against the packaged README and declarations: layers
// kept in an array and in nn.ModuleList, data from the wgrad/data readers through DataLoader,
// training with no tidy() and no dispose(), a checkpoint saved and loaded, tensors printed.
import { init, shutdown, nn, optim, tensor, crossEntropy, stats, manualSeed, saveCheckpoint, loadCheckpoint } from 'wgrad';
import { loadFashionMnist, DataLoader, subset } from 'wgrad/data';
import { inspect } from 'node:util';

const dir = process.argv[2] || undefined; // undefined: Debian's dataset-fashion-mnist
const warnings = [];
console.warn = (m) => warnings.push(String(m));
await init();
manualSeed(0);
const train = subset(loadFashionMnist({ dir, split: 'train' }), 6000, 1);
const test = subset(loadFashionMnist({ dir, split: 'test' }), 1000, 2);

class Mlp extends nn.Module {
  constructor() {
    super();
    this.layers = [new nn.Linear(784, 128), new nn.Linear(128, 10)];
  }
  forward(x) {
    return this.layers[1].forward(this.layers[0].forward(x.reshape(x.shape[0], 784)).relu());
  }
}
class Cnn extends nn.Module {
  constructor() {
    super();
    this.convs = new nn.ModuleList([new nn.Conv2d(1, 8, 3, { stride: 2, padding: 1 }), new nn.Conv2d(8, 16, 3, { stride: 2, padding: 1 })]);
    this.fc = new nn.Linear(16 * 7 * 7, 10);
  }
  forward(x) {
    for (const conv of this.convs) x = conv.forward(x).relu();
    return this.fc.forward(x.flatten(1));
  }
}

async function accuracy(model, ds) {
  let right = 0;
  for (const [x, y] of new DataLoader(ds, { batchSize: 500 })) {
    const pred = await model.forward(x).argmax(1).toArray();
    const labels = await y.toArray();
    pred.forEach((p, i) => (right += p === labels[i] ? 1 : 0));
  }
  return right / ds.count;
}

async function fit(model, steps, lr) {
  const opt = new optim.SGD(model.parameters(), { lr, momentum: 0.9 });
  const loader = new DataLoader(train, { batchSize: 64, shuffle: true, dropLast: true });
  const live = [];
  for (let step = 0; step < steps; ) {
    for (const [x, y] of loader) {
      if (step++ >= steps) break;
      const loss = crossEntropy(model.forward(x), y);
      opt.zeroGrad();
      loss.backward();
      opt.step();
      await loss.item();
      live.push(stats().bytesLive);
    }
  }
  return live;
}

const mlp = new Mlp();
const live = await fit(mlp, 1000, 0.05);
const cnn = new Cnn();
await fit(cnn, 200, 0.05);

await saveCheckpoint('mlp.safetensors', { model: mlp, epoch: 1 });
const restored = new Mlp();
const { epoch } = await loadCheckpoint('mlp.safetensors', { model: restored });
const [probe] = [...new DataLoader(test, { batchSize: 8 })][0];

const small = tensor([[1, -2.5], [3, 4]]);
console.log(JSON.stringify({
  mlpAccuracy: await accuracy(mlp, test),
  cnnAccuracy: await accuracy(cnn, test),
  names: Object.keys(cnn.stateDict()),
  mlpParameters: mlp.parameters().length,
  liveAfter10: live[9], livePeak: Math.max(...live), liveEnd: live.at(-1), steps: live.length,
  collections: stats().collections, warnings,
  restoredEpoch: epoch,
  sameLogits: JSON.stringify(await mlp.forward(probe).tolist()) === JSON.stringify(await restored.forward(probe).tolist()),
  printed: await small.format(), shown: inspect(small), list: await small.tolist(),
}));
shutdown();
`;

test.before(() => {
  // Pack a copy of the sources that the build needs, so that this test neither rewrites the
  // shared dist/ nor races another `npm test` in the same tree doing the same.
  const shipped = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { files: string[] }).files.filter((f) => f !== 'dist');
  for (const f of new Set(['tsconfig.json', 'tsconfig.build.json', 'scripts', 'src', ...shipped, 'package.json'])) {
    mkdirSync(join(stage, f, '..'), { recursive: true });
    cpSync(join(root, f), join(stage, f), { recursive: true });
  }
  symlinkSync(join(root, 'node_modules'), join(stage, 'node_modules'), 'dir');
  run('npm', ['pack', '--pack-destination', tmp, '--loglevel=error'], stage, 300);
  const found = readdirSync(tmp).filter((f) => /^wgrad-.*\.tgz$/.test(f));
  assert.is(found.length, 1, `npm pack should leave one wgrad-*.tgz in ${tmp}, found [${found}]`);
  tgz = join(tmp, found[0]);
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
  // --prefer-offline: `webgpu` comes from the npm cache when it is there (--offline can fail on it).
  run('npm', ['install', tgz, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], app, 300);
});

// Also on exit, so a failed install (its node_modules is large) does not stay behind.
let cleaned = false;
function cleanup(): void {
  if (cleaned) return;
  cleaned = true;
  if (process.env.WGRAD_KEEP_TMP) console.log(`package test files kept in ${tmp}`);
  else rmSync(tmp, { recursive: true, force: true });
}
process.once('exit', cleanup);
test.after(cleanup);

test('the tarball holds dist/ (JS, .d.ts, embedded kernels, CLI) and kernels/, and nothing from src/ or test/', () => {
  const files = run('tar', ['-tzf', tgz], tmp, 60)
    .split('\n')
    .filter(Boolean)
    .map((f) => f.replace(/^package\//, ''));
  for (const f of [
    'package.json',
    'README.md',
    'dist/index.js',
    'dist/index.d.ts',
    'dist/runtime.js',
    'dist/kernels.js',
    'dist/kernels.d.ts',
    'dist/cli/main.js',
  ]) {
    assert.ok(files.includes(f), `${f} missing from ${tgz}`);
  }
  for (const k of readdirSync(join(root, 'kernels')).filter((f) => f.endsWith('.wgsl'))) {
    assert.ok(files.includes(`kernels/${k}`), `kernels/${k} missing from the package`);
  }
  const stray = files.filter(
    (f) =>
      (/^(src|test|bench|examples|scripts|dist\/(src|test))\//.test(f) && !f.endsWith('.svg')) ||
      (f.endsWith('.ts') && !f.endsWith('.d.ts')),
  );
  assert.equal(stray, [], 'files the package should not ship');
  // Every relative link and image of the packaged README is a file of the package.
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const targets = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((t) => !/^[a-z]+:|^#/.test(t));
  assert.ok(targets.length > 0, 'the README should link its figures');
  for (const t of targets)
    assert.ok(files.includes(t.replace(/^\.\//, '').split('#')[0]), `README links ${t}, which the package does not hold`);
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { repository?: { url?: string } };
  assert.ok(pkg.repository?.url, 'package.json names its repository');
});

test('(a) plain JavaScript: import wgrad, init, gradient of relu(x @ w).sum()', () => {
  const x = [
    [1, -2, 0.5],
    [3, 0.5, -1],
  ];
  const w = [
    [0.5, -1],
    [2, 1],
    [-0.25, 3],
  ];
  writeFileSync(
    join(app, 'grad.mjs'),
    `import { init, tensor, relu, matmul, shutdown, deviceInfo } from 'wgrad';
import { kernels } from 'wgrad/kernels';
await init();
const x = tensor(${JSON.stringify(x)}, undefined, { requiresGrad: true });
const w = tensor(${JSON.stringify(w)}, undefined, { requiresGrad: true });
relu(matmul(x, w)).sum().backward();
console.log(JSON.stringify({
  gx: Array.from(await x.grad.toArray()), gw: Array.from(await w.grad.toArray()),
  backend: deviceInfo().backend, from: import.meta.resolve('wgrad'), embedded: Object.keys(kernels).sort(),
}));
shutdown();
`,
  );
  const out = JSON.parse(run('node', ['grad.mjs'], app, 120).trim().split('\n').at(-1)!) as {
    gx: number[];
    gw: number[];
    backend: string;
    from: string;
    embedded: string[];
  };
  assert.ok(out.from.includes('/app/node_modules/wgrad/dist/'), `wgrad resolved to ${out.from}, not the installed package`);
  const wgsl = readdirSync(join(app, 'node_modules/wgrad/kernels'))
    .filter((f) => f.endsWith('.wgsl'))
    .map((f) => f.slice(0, -5))
    .sort();
  assert.equal(out.embedded, wgsl, "'wgrad/kernels' should hold every kernels/*.wgsl of the package");
  // Closed form: with m = (x @ w > 0), d/dx = m @ wᵀ and d/dw = xᵀ @ m.
  const m = x.map((row) => w[0].map((_, j) => (row.reduce((s, v, k) => s + v * w[k][j], 0) > 0 ? 1 : 0)));
  const gx = x.map((_, i) => w.map((wk) => wk.reduce((s, v, j) => s + m[i][j] * v, 0))).flat();
  const gw = w.map((_, k) => w[0].map((_, j) => x.reduce((s, row, i) => s + row[k] * m[i][j], 0))).flat();
  assert.ok(m.flat().includes(0) && m.flat().includes(1), 'the example should have active and inactive relus');
  assert.equal(out.gx, gx, `x.grad on ${out.backend}`);
  assert.equal(out.gw, gw, `w.grad on ${out.backend}`);
});

test('(b) TypeScript: the installed declarations type-check a strict consumer', () => {
  writeFileSync(
    join(app, 'check.ts'),
    `import { init, tensor, relu, matmul, optim, type Tensor, type DeviceInfo, type InitOptions } from 'wgrad';
import { kernels } from 'wgrad/kernels';

const opts: InitOptions = { kernels };
const info: DeviceInfo = await init(opts);
export const backend: string = info.backend;
const x: Tensor = tensor([[1, 2], [3, 4]], undefined, { requiresGrad: true });
relu(matmul(x, x)).sum().backward();
export const grad: Float32Array = await x.grad!.toArray();
export const sgd = new optim.SGD([x], { lr: 0.1 });
export const buffer: GPUBuffer = x.storage.buffer;
// @ts-expect-error: tensor() takes numbers, so this line must be an error (it is not if types were any)
tensor('not numbers');
`,
  );
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib: ['ES2022', 'DOM'],
        types: [],
        strict: true,
        noEmit: true,
      },
      files: ['check.ts'],
    }),
  );
  run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(app, 'tsconfig.json')], app, 120);
});

test("(b') TypeScript with lib ES2022 only: what the README says (skipLibCheck works; without it, DOM is needed)", () => {
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  const config = (extra: object) =>
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib: ['ES2022'],
        types: [],
        strict: true,
        noEmit: true,
        ...extra,
      },
      files: ['es2022.ts'],
    });
  writeFileSync(
    join(app, 'es2022.ts'),
    `import { init, tensor, nn, type Tensor } from 'wgrad';
import { DataLoader, TensorDataset } from 'wgrad/data';
await init();
const x: Tensor = tensor([[1, 2], [3, 4]], undefined, { requiresGrad: true });
export const model = new nn.Linear(2, 2);
export const loader = new DataLoader(new TensorDataset(x, [0, 1]), { batchSize: 2 });
// @ts-expect-error: still typed: a string is not a tensor
model.forward('x');
`,
  );
  writeFileSync(join(app, 'tsconfig.skiplib.json'), config({ skipLibCheck: true }));
  run(process.execPath, [tsc, '-p', join(app, 'tsconfig.skiplib.json')], app, 120);
  writeFileSync(join(app, 'tsconfig.nodom.json'), config({}));
  const r = spawnSync(process.execPath, [tsc, '-p', join(app, 'tsconfig.nodom.json')], { cwd: app, encoding: 'utf8', timeout: 120_000 });
  assert.is.not(r.status, 0, 'without DOM and without skipLibCheck the WebGPU names are missing, as the README says');
  assert.match(r.stdout, /Cannot find name 'GPUBuffer'/);
  const readme = readFileSync(join(app, 'node_modules/wgrad/README.md'), 'utf8');
  assert.match(readme.replace(/\s+/g, ' '), /"lib": \["ES2022", "DOM"\]`, or `"skipLibCheck": true` with `"lib": \["ES2022"\]`/);
});

test('(d) a PyTorch-style user program: modules in lists, readers + DataLoader, no tidy, checkpoint, printing', () => {
  // Fashion-MNIST from Debian's package when installed, else learnable stand-in IDX files (a class
  // is a bright band at its own rows) written here, read through the same loadFashionMnist.
  let dir = '';
  if (
    !existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz') &&
    !existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte')
  ) {
    dir = join(tmp, 'fmnist');
    mkdirSync(dir);
    const idx = (dims: number[], data: Uint8Array) => {
      const head = Buffer.alloc(4 + 4 * dims.length);
      head.writeUInt32BE(dims.length === 1 ? 0x801 : 0x803, 0);
      dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
      return Buffer.concat([head, data]);
    };
    for (const [split, n] of [
      ['train', 6000],
      ['t10k', 1000],
    ] as const) {
      const labels = Uint8Array.from({ length: n }, (_, i) => (i * 7) % 10);
      const images = new Uint8Array(n * 784);
      labels.forEach((c, i) => {
        for (let p = 0; p < 784; p++) images[i * 784 + p] = (Math.floor(p / 28) >> 1) % 10 === c ? 200 + (p % 50) : (p * 31 + i) % 60;
      });
      writeFileSync(join(dir, `${split}-images-idx3-ubyte`), idx([n, 28, 28], images));
      writeFileSync(join(dir, `${split}-labels-idx1-ubyte`), idx([n], labels));
    }
  }
  writeFileSync(join(app, 'user.mjs'), USER_PROGRAM);
  const out = JSON.parse(run('node', ['user.mjs', dir], app, 900).trim().split('\n').at(-1)!) as {
    mlpAccuracy: number;
    cnnAccuracy: number;
    names: string[];
    mlpParameters: number;
    liveAfter10: number;
    livePeak: number;
    liveEnd: number;
    steps: number;
    collections: number;
    warnings: string[];
    restoredEpoch: number;
    sameLogits: boolean;
    printed: string;
    shown: string;
    list: number[][];
  };
  console.log(
    `  user program: MLP ${(100 * out.mlpAccuracy).toFixed(1)}%, CNN ${(100 * out.cnnAccuracy).toFixed(1)}% on ${dir ? 'stand-in' : 'Fashion-MNIST'} test images; ` +
      `live GPU ${(out.liveAfter10 / 2 ** 20).toFixed(1)} → peak ${(out.livePeak / 2 ** 20).toFixed(1)} MiB over ${out.steps} un-tidied steps, ${out.collections} collections`,
  );
  assert.ok(out.mlpAccuracy > 0.75, `MLP accuracy ${out.mlpAccuracy}`);
  assert.ok(out.cnnAccuracy > 0.6, `CNN accuracy ${out.cnnAccuracy}`);
  assert.is(out.mlpParameters, 4, 'the two Linear layers in an array are registered');
  assert.equal(out.names, ['convs.0.weight', 'convs.0.bias', 'convs.1.weight', 'convs.1.bias', 'fc.weight', 'fc.bias']);
  assert.is(out.steps, 1000);
  assert.ok(
    out.livePeak - out.liveAfter10 < 64 * 2 ** 20 || out.warnings.some((w) => w.includes('tidy(')),
    `live GPU bytes grew from ${out.liveAfter10} to ${out.livePeak} without the warning`,
  );
  assert.ok(out.livePeak - out.liveAfter10 < 64 * 2 ** 20, `live GPU bytes bounded: ${out.liveAfter10} → ${out.livePeak}`);
  assert.equal(out.warnings, []);
  assert.is(out.restoredEpoch, 1);
  assert.ok(out.sameLogits, 'the loaded checkpoint gives the same logits');
  assert.is(out.shown, "Tensor(shape=[2, 2], dtype=float32, device='webgpu')");
  assert.equal(out.list, [
    [1, -2.5],
    [3, 4],
  ]);
  const python = findPythonWithTorch();
  const expected = python
    ? runPython(python, 'import torch\nprint(repr(torch.tensor([[1, -2.5], [3, 4]])))').trim()
    : 'tensor([[ 1.0000, -2.5000],\n        [ 3.0000,  4.0000]])'; // torch 1.13's output, as test/format.test.ts checks
  assert.is(out.printed, expected);
});

test("(e) the packaged README's library example runs and prints the right, non-zero gradient", () => {
  const readme = readFileSync(join(app, 'node_modules/wgrad/README.md'), 'utf8');
  const block = /## Using it as a library\s+```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, 'the README has a library example');
  const js =
    block.replace(/!\./g, '.') + 'console.log(JSON.stringify({ x: await x.tolist(), w: await w.tolist(), g: await w.grad.tolist() }));\n';
  writeFileSync(join(app, 'readme.mjs'), js);
  const lines = run('node', ['readme.mjs'], app, 120).trim().split('\n');
  const { x, w, g } = JSON.parse(lines.at(-1)!) as { x: number[][]; w: number[][]; g: number[][] };
  // d/dw mean((xw)²) = 2 xᵀ(xw) / numel(xw)
  const xw = x.map((row) => w[0].map((_, j) => row.reduce((s, v, k) => s + v * w[k][j], 0)));
  const expected = w.map((_, k) => w[0].map((_, j) => (2 * x.reduce((s, row, i) => s + row[k] * xw[i][j], 0)) / 4));
  assert.ok(
    g.flat().every((v) => v !== 0),
    `a visibly non-zero gradient: ${JSON.stringify(g)}`,
  );
  g.flat().forEach((v, i) =>
    assert.ok(Math.abs(v - expected.flat()[i]) < 1e-4 * Math.max(1, Math.abs(expected.flat()[i])), `grad ${v} vs ${expected.flat()[i]}`),
  );
  assert.ok(
    lines.some((l) => l.startsWith('tensor([[')),
    'print() output is there',
  );
});

const EMBED_PROGRAM = `
// A finished wgrad-moco run as a library user meets it: loadMoCoRun, embed(), knnAccuracy.
import { loadMoCoRun, knnAccuracy, shutdown } from 'wgrad';
import { loadFashionMnist } from 'wgrad/data';

const [runDir, dataDir] = process.argv.slice(2);
const run = await loadMoCoRun(runDir);
const train = loadFashionMnist({ dir: dataDir, split: 'train' });
const test = loadFashionMnist({ dir: dataDir, split: 'test' });
const bank = run.embed(train.images);
const queries = run.embed(test.images);
const knn = await knnAccuracy(bank, Int32Array.from(train.labels), queries, Int32Array.from(test.labels), { k: run.config.knnK, t: run.config.knnT });
console.log(JSON.stringify({ knn, logged: run.records.at(-1).knn, epoch: run.epoch, shape: bank.shape, input: run.input, testCount: test.count }));
shutdown();
`;

test('(f) a MoCo run from `npx wgrad-moco train`, loaded with loadMoCoRun: its embeddings give the kNN the run logged', () => {
  // The first 256 training and 64 test images of the (stand-in or real) Fashion-MNIST as IDX files.
  const src = existsSync(join(tmp, 'fmnist')) ? join(tmp, 'fmnist') : '/usr/share/datasets/fashion-mnist';
  const dir = join(tmp, 'small');
  mkdirSync(dir);
  writeFileSync(
    join(app, 'cut.mjs'),
    `
import { loadFashionMnist, encodeIdx } from 'wgrad/data';
import { writeFileSync } from 'node:fs';
for (const [split, prefix, n] of [['train', 'train', 256], ['test', 't10k', 64]]) {
  const ds = loadFashionMnist({ dir: process.argv[2], split });
  writeFileSync(process.argv[3] + '/' + prefix + '-images-idx3-ubyte', encodeIdx([n, 28, 28], ds.images.subarray(0, n * 784)));
  writeFileSync(process.argv[3] + '/' + prefix + '-labels-idx1-ubyte', encodeIdx([n], ds.labels.subarray(0, n)));
}
`,
  );
  run('node', ['cut.mjs', src, dir], app, 120);
  const out = join(tmp, 'run');
  run(
    'npx',
    [
      '--no',
      '--',
      'wgrad-moco',
      'train',
      '--data-dir',
      dir,
      '--train-size',
      '0',
      '--test-size',
      '0',
      '--epochs',
      '1',
      '--batch',
      '32',
      '--K',
      '64',
      '--width',
      '8',
      '--probe-epochs',
      '0',
      '--no-final-eval',
      '--no-baselines',
      '--out',
      out,
    ],
    app,
    600,
  );
  writeFileSync(join(app, 'embed.mjs'), EMBED_PROGRAM);
  const r = JSON.parse(run('node', ['embed.mjs', out, dir], app, 300).trim().split('\n').at(-1)!) as {
    knn: number;
    logged: number;
    epoch: number;
    shape: number[];
    input: { channels: number; height: number; width: number; scale: number };
    testCount: number;
  };
  assert.is(r.epoch, 1);
  assert.is(r.testCount, 64);
  assert.is(r.shape[0], 256);
  assert.equal(r.input, { channels: 1, height: 28, width: 28, scale: 255 });
  // The same backbone, scaling and kNN as the trainer's monitor: equal up to one query's tie.
  assert.ok(Math.abs(r.knn - r.logged) <= 100 / 64 + 1e-9, `kNN from loadMoCoRun embeddings ${r.knn}% vs the run's logged ${r.logged}%`);
  console.log(`  loadMoCoRun: kNN of the embeddings ${r.knn.toFixed(2)}% vs the run's log ${r.logged.toFixed(2)}%`);
});

test('(c) the CLI: npx wgrad-moco help', () => {
  const out = run('npx', ['--no', '--', 'wgrad-moco', 'help'], app, 120);
  assert.match(out, /usage: wgrad-moco <command>/);
  assert.match(out, /train/);
});

test.run();
