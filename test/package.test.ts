// The package as a user gets it: `npm pack` (its prepack script builds dist/), then, in an empty
// project outside this repository, `npm install <tgz>` from the npm cache, and
//   (a) a plain .mjs script imports wgrad, inits (kernels found in the installed package) and
//       computes a gradient, checked against the closed form in float64;
//   (b) a .ts file is type-checked against the installed .d.ts files (strict, no skipLibCheck,
//       no @types/node), with a @ts-expect-error line that fails if the types were `any`;
//   (c) `npx wgrad-moco help` runs the CLI from dist/.
// Takes about a minute (the build, and installing `webgpu`, which is large). Set WGRAD_KEEP_TMP=1
// to keep the temporary folder for a look.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' },
  });
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (r.error || r.status !== 0) {
    const why = r.error ? `${r.error.message}${r.signal ? ` (${r.signal}; limit ${timeoutS} s)` : ''}` : `exit ${r.status}`;
    const tail = (s: string | null) => (s ?? '').split('\n').slice(-40).join('\n');
    throw new Error(`\`${cmd} ${args.join(' ')}\` in ${cwd} failed after ${secs} s: ${why}\n--- stdout:\n${tail(r.stdout)}\n--- stderr:\n${tail(r.stderr)}`);
  }
  return r.stdout;
}

test.before(() => {
  // Pack a copy of the sources that the build needs, so that this test neither rewrites the
  // shared dist/ nor races another `npm test` in the same tree doing the same.
  for (const f of ['package.json', 'README.md', 'tsconfig.json', 'tsconfig.build.json', 'scripts', 'src', 'kernels']) cpSync(join(root, f), join(stage, f), { recursive: true });
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
  const files = run('tar', ['-tzf', tgz], tmp, 60).split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
  for (const f of ['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/runtime.js', 'dist/kernels.js', 'dist/kernels.d.ts', 'dist/cli/main.js']) {
    assert.ok(files.includes(f), `${f} missing from ${tgz}`);
  }
  for (const k of readdirSync(join(root, 'kernels')).filter((f) => f.endsWith('.wgsl'))) {
    assert.ok(files.includes(`kernels/${k}`), `kernels/${k} missing from the package`);
  }
  const stray = files.filter((f) => /^(src|test|bench|examples|scripts|dist\/(src|test))\//.test(f) || f.endsWith('.ts') && !f.endsWith('.d.ts'));
  assert.equal(stray, [], 'files the package should not ship');
});

test('(a) plain JavaScript: import wgrad, init, gradient of relu(x @ w).sum()', () => {
  const x = [[1, -2, 0.5], [3, 0.5, -1]];
  const w = [[0.5, -1], [2, 1], [-0.25, 3]];
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
  const out = JSON.parse(run('node', ['grad.mjs'], app, 120).trim().split('\n').at(-1)!) as { gx: number[]; gw: number[]; backend: string; from: string; embedded: string[] };
  assert.ok(out.from.includes('/app/node_modules/wgrad/dist/'), `wgrad resolved to ${out.from}, not the installed package`);
  const wgsl = readdirSync(join(app, 'node_modules/wgrad/kernels')).filter((f) => f.endsWith('.wgsl')).map((f) => f.slice(0, -5)).sort();
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
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM'], types: [], strict: true, noEmit: true },
      files: ['check.ts'],
    }),
  );
  run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(app, 'tsconfig.json')], app, 120);
});

test('(c) the CLI: npx wgrad-moco help', () => {
  const out = run('npx', ['--no', '--', 'wgrad-moco', 'help'], app, 120);
  assert.match(out, /usage: wgrad-moco <command>/);
  assert.match(out, /train/);
});

test.run();
