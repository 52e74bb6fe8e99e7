// wgrad in a browser: the build (scripts/build.mjs into a temporary dist/) is served with
// test/browser/ from a Node http server on 127.0.0.1, and Debian's Chromium (driven by
// playwright-core, never a downloaded browser) opens test/browser/index.html with WebGPU on.
// The page imports dist/index.js as plain ES modules (so nothing Node-only may be on that path),
// init() loads the kernels from dist/kernels.js, and test/browser/workload.mjs runs
//   - relu(x @ w).sum() backward, checked against the float64 closed form;
//   - three MoCo steps (SmallConvNet, SGD), checked against the same workload in Node on src/;
//   - nn.resnet50 loaded from a converted official-layout MoCo v2 checkpoint (random weights by
//     PyTorch): its eval features of one 32×32 image against PyTorch's.
// Chromium here gives a SwiftShader adapter (software Vulkan); CI installs Chromium with
// `scripts/setup.sh --with-browser`. Without /usr/bin/chromium the test is skipped (test/skip.ts).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { skip } from './skip.ts';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setup } from './helpers.ts';
import * as wg from '../src/index.ts';
import * as nn from '../src/nn/index.ts';
import { MoCo } from '../src/moco/moco.ts';
import { CHROMIUM, launchChromium } from './browser/chromium.ts';
import type { Browser } from 'playwright-core';
import { decodeSafetensors } from '../src/io/safetensors.ts';
import { findPythonWithTorch } from './io/python.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const workloadUrl = new URL('./browser/workload.mjs', import.meta.url).href; // plain JS, shared with the page

interface PageResult {
  stage: string;
  error?: string;
  device?: wg.DeviceInfo;
  initMs?: number;
  gradientMs?: number;
  mocoMs?: number;
  gradient?: { loss: number; gx: number[]; gw: number[] };
  moco?: { losses: number[]; accuracies: number[]; firstWeights: number[]; firstShape: number[] };
  resnet50Ms?: number;
  resnet50?: { shape: number[]; features: number[] };
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.html': 'text/html',
  '.json': 'application/json',
  '.wgsl': 'text/plain',
  '.map': 'application/json',
};

/** Serves /dist/* from `dist` and /test/browser/* from the repository; records what it could not serve. */
function serve(dist: string, missing: string[], data?: string): Promise<Server> {
  const mounts: [string, string][] = [
    ['/dist/', dist],
    ['/test/browser/', join(root, 'test/browser')],
    ...(data ? [['/data/', data] as [string, string]] : []),
  ];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    const mount = mounts.find(([prefix]) => path.startsWith(prefix));
    const file = mount && normalize(join(mount[1], path.slice(mount[0].length)));
    if (!mount || !file || !file.startsWith(mount[1] + sep) || !existsSync(file) || !statSync(file).isFile()) {
      missing.push(path);
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}`);
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    res.end(readFileSync(file));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

/** Closed form of d/dx, d/dw of relu(x @ w).sum() in float64: m = (x @ w > 0), gx = m @ wᵀ, gw = xᵀ @ m. */
function reluMatmulGrads(x: number[], w: number[], m: number, k: number, n: number) {
  const mask = new Array<number>(m * n);
  let loss = 0;
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let l = 0; l < k; l++) s += x[i * k + l] * w[l * n + j];
      mask[i * n + j] = s > 0 ? 1 : 0;
      loss += Math.max(s, 0);
    }
  const gx = new Array<number>(m * k).fill(0);
  const gw = new Array<number>(k * n).fill(0);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++)
      for (let l = 0; l < k; l++) {
        gx[i * k + l] += mask[i * n + j] * w[l * n + j];
        gw[l * n + j] += x[i * k + l] * mask[i * n + j];
      }
  return { loss, gx, gw, active: mask.filter(Boolean).length };
}

function assertAllClose(got: number[], want: number[], atol: number, rtol: number, what: string): void {
  assert.is(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    assert.ok(err <= atol + rtol * Math.abs(want[i]), `${what}[${i}]: got ${got[i]}, want ${want[i]} (|err| ${err})`);
  }
}

/** Writes data/resnet50.safetensors and data/features.safetensors; returns why it could not, or null. */
function resnet50Files(data: string): string | null {
  const py = findPythonWithTorch();
  if (!py) return 'no python3 with torch (apt-get install python3-torch)';
  mkdirSync(data, { recursive: true });
  const ckpt = join(data, 'moco_v2_random.pth.tar');
  for (const args of [
    [join(root, 'test/nn/torch_moco_resnet50.py'), ckpt, join(data, 'features.safetensors'), '1', '32'],
    [join(root, 'scripts/torch/convert.py'), 'backbone', ckpt, join(data, 'resnet50.safetensors')],
  ]) {
    const r = spawnSync(py, args, { encoding: 'utf8', timeout: 300_000 });
    assert.ok(r.status === 0, `${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  }
  return null;
}

test.before(setup);

test('Chromium + WebGPU: dist/ loads as ES modules, gradients match float64, MoCo steps match Node', async () => {
  if (!existsSync(CHROMIUM)) {
    return skip(`${CHROMIUM} not found (bash scripts/setup.sh --with-browser installs chromium)`);
  }
  const tmp = mkdtempSync(join(tmpdir(), 'wgrad-browser-'));
  const dist = join(tmp, 'dist');
  const missing: string[] = [];
  const log: string[] = [];
  let server: Server | undefined;
  let browser: Browser | undefined;
  try {
    const t0 = Date.now();
    const build = spawnSync(process.execPath, [join(root, 'scripts/build.mjs'), dist], { cwd: root, encoding: 'utf8', timeout: 300_000 });
    assert.ok(
      build.status === 0,
      `scripts/build.mjs failed (${build.error?.message ?? `exit ${build.status}`}):\n${build.stdout}\n${build.stderr}`,
    );
    const tBuild = Date.now();

    // A random official-layout MoCo v2 ResNet-50 (PyTorch) converted by scripts/torch/convert.py
    // backbone: the page loads it into nn.resnet50 and returns its eval features of one image.
    const data = join(tmp, 'data');
    const r50 = resnet50Files(data);
    server = await serve(dist, missing, data);
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/test/browser/index.html${r50 ? '' : '?resnet50=1'}`;
    browser = await launchChromium();
    const page = await browser.newPage();
    page.on('console', (m) => log.push(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => log.push(`page error: ${e.message}`));
    await page.goto(url, { timeout: 60_000 });
    const tPage = Date.now();
    await page.waitForFunction(() => (window as unknown as { wgradTest?: unknown }).wgradTest !== undefined, undefined, {
      timeout: 60_000,
    });
    const r = (await page.evaluate(() => (window as unknown as { wgradTest: Promise<unknown> }).wgradTest)) as PageResult;
    const tDone = Date.now();
    const context = () => `\n  stage: ${r.stage}\n  not served: [${missing.join(', ')}]\n  ${log.join('\n  ')}`;
    assert.ok(!r.error && r.stage === 'done', `the page failed at '${r.stage}': ${r.error}${context()}`);

    const d = r.device!;
    console.log(
      `  browser adapter: ${[d.vendor, d.architecture, d.description].filter(Boolean).join(' ') || '(no info)'} (${d.backend}, ${d.family}), ` +
        `subgroups ${d.subgroupMinSize}-${d.subgroupMaxSize}, shader-f16 ${d.features.includes('shader-f16') ? 'yes' : 'no'}\n` +
        `  build ${((tBuild - t0) / 1000).toFixed(1)} s, browser start + page ${((tPage - tBuild) / 1000).toFixed(1)} s, ` +
        `init ${r.initMs!.toFixed(0)} ms, gradient ${r.gradientMs!.toFixed(0)} ms, 3 MoCo steps ${r.mocoMs!.toFixed(0)} ms (page total ${((tDone - tPage) / 1000).toFixed(1)} s)\n` +
        `  MoCo losses ${r.moco!.losses.map((l) => l.toFixed(5)).join(', ')}`,
    );
    assert.is(d.backend, 'browser', 'init() in the page should use navigator.gpu');

    // Gradient vs float64 closed form (inputs are multiples of 1/64, so the f32 products are exact).
    const workload = await import(workloadUrl);
    const { m, k, n } = workload.GRAD_SHAPES as { m: number; k: number; n: number };
    const want = reluMatmulGrads(workload.lcg(m * k, 1), workload.lcg(k * n, 2), m, k, n);
    assert.ok(
      want.active > 10 && want.active < m * n - 10,
      `the example should mix active and inactive relus (${want.active} of ${m * n} active)`,
    );
    assertAllClose(r.gradient!.gx, want.gx, 1e-5, 1e-6, 'browser x.grad');
    assertAllClose(r.gradient!.gw, want.gw, 1e-5, 1e-6, 'browser w.grad');
    assertAllClose([r.gradient!.loss], [want.loss], 1e-4, 1e-5, 'browser loss');

    // MoCo in the browser (SwiftShader) vs the same workload in Node (Dawn here): same seeds, same
    // code, different adapters, so only float rounding may differ.
    const node = await workload.mocoCase(wg, nn, MoCo);
    const b = r.moco!;
    console.log(
      `  MoCo browser vs Node: max |Δloss| ${Math.max(...b.losses.map((l, i) => Math.abs(l - node.losses[i]))).toExponential(1)}`,
    );
    assert.ok(b.losses.every(Number.isFinite) && b.losses.length === 3, `browser MoCo losses ${b.losses}`);
    assertAllClose(b.losses, node.losses, 1e-4, 1e-4, 'MoCo loss, browser vs Node');
    assertAllClose(b.accuracies, node.accuracies, 1e-6, 0, 'MoCo pretext accuracy, browser vs Node');
    assert.equal(b.firstShape, node.firstShape);
    assertAllClose(b.firstWeights, node.firstWeights, 1e-4, 1e-3, 'first conv weights after 3 steps, browser vs Node');

    if (r50) {
      skip(`ResNet-50 in the browser: ${r50}`);
    } else {
      const ref = decodeSafetensors(new Uint8Array(readFileSync(join(data, 'features.safetensors')))).tensors.features;
      const got = r.resnet50!;
      assert.equal(got.shape, ref.shape);
      const err = Math.max(...got.features.map((v, i) => Math.abs(v - ref.data[i])));
      const scale = Math.max(1, ...Array.from(ref.data, Math.abs));
      console.log(
        `  ResNet-50 (official MoCo v2 layout, random weights) in the browser: ${got.shape.join('×')} features in ${(r.resnet50Ms! / 1000).toFixed(1)} s, max |Δ| vs PyTorch ${err.toExponential(1)}`,
      );
      assert.ok(err <= 1e-4 * scale, `ResNet-50 features, browser vs PyTorch: max |error| ${err} > 1e-4 × ${scale}`);
    }
  } finally {
    await browser?.close().catch(() => {});
    server?.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test.run();
