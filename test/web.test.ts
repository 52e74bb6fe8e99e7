// The page of `npm run web` in headless Chromium (test/browser/chromium.ts: Debian's Chromium, a
// SwiftShader adapter): scripts/web.mjs serves a fresh build, the page trains one tiny epoch
// (128 images, batch 32, K 64, width 4), and the test checks every panel drew, the saved run loads
// in Node through the CLI's --resume path with the page's parameters, the page loads it back, the
// screenshot is not blank, and a page without navigator.gpu says so.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateSync } from 'node:zlib';
import type { Browser } from 'playwright-core';
import { setup } from './helpers.ts';
import { CHROMIUM, launchChromium } from './browser/chromium.ts';
import { FASHION_MNIST_DIR } from '../src/data/node-files.ts';
import { TRAIN_OPTIONS, buildEncoder, buildModel, epochLr, type TrainConfig } from '../src/cli/train.ts';
import { parseArgs } from '../src/cli/args.ts';
import { checkMocoTensors, readMocoCheckpoint, restoreMoco } from '../src/cli/checkpoint.ts';
import { SGD } from '../src/optim/sgd.ts';
import type { MoCo } from '../src/moco/moco.ts';
import { decodeSafetensors } from '../src/io/safetensors.ts';
import { Generator, defaultGenerator } from '../src/random.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const TINY = 'trainSize=128&testSize=50&batch=32&K=64&width=4&dim=16&epochs=1&knnK=20';

/** Fraction of pixels that differ from the most common colour, from the PNG's raw rows (8-bit RGB/RGBA, filters undone). */
function nonBackgroundFraction(png: Buffer): number {
  let o = 8;
  const idat: Buffer[] = [];
  let width = 0;
  let height = 0;
  let channels = 0;
  while (o < png.length) {
    const len = png.readUInt32BE(o);
    const type = png.toString('latin1', o + 4, o + 8);
    const data = png.subarray(o + 8, o + 8 + len);
    if (type === 'IHDR') [width, height, channels] = [data.readUInt32BE(0), data.readUInt32BE(4), data[9] === 6 ? 4 : 3];
    if (type === 'IDAT') idat.push(data);
    o += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const cur = new Uint8Array(stride);
  const prev = new Uint8Array(stride);
  const counts = new Map<number, number>();
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    for (let i = 0; i < stride; i++) {
      const x = raw[y * (stride + 1) + 1 + i];
      const a = i >= channels ? cur[i - channels] : 0;
      const b = prev[i];
      const c = i >= channels ? prev[i - channels] : 0;
      const p = a + b - c;
      const pred =
        f === 0
          ? 0
          : f === 1
            ? a
            : f === 2
              ? b
              : f === 3
                ? (a + b) >> 1
                : Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c)
                  ? a
                  : Math.abs(p - b) <= Math.abs(p - c)
                    ? b
                    : c;
      cur[i] = (x + pred) & 0xff;
    }
    for (let i = 0; i < width; i++) {
      const key = (cur[i * channels] << 16) | (cur[i * channels + 1] << 8) | cur[i * channels + 2];
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    prev.set(cur);
  }
  return 1 - Math.max(...counts.values()) / (width * height);
}

test.before(setup);

test('the training page: trains in Chromium, draws every panel, saves a run the CLI resumes, loads it back', async () => {
  if (!existsSync(CHROMIUM)) {
    console.log(`  skipped: ${CHROMIUM} not found (install it with \`bash scripts/setup.sh --with-browser\`)`);
    return;
  }
  if (!existsSync(FASHION_MNIST_DIR)) {
    console.log(`  skipped: Fashion-MNIST not found at ${FASHION_MNIST_DIR} (apt-get install dataset-fashion-mnist)`);
    return;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'wgrad-web-'));
  const dist = join(tmp, 'dist');
  const log: string[] = [];
  let server: Server | undefined;
  let browser: Browser | undefined;
  try {
    const build = spawnSync(process.execPath, [join(root, 'scripts/build.mjs'), dist], { cwd: root, encoding: 'utf8', timeout: 300_000 });
    assert.ok(build.status === 0, `scripts/build.mjs failed:\n${build.stdout}\n${build.stderr}`);
    const { startWebServer } = await import(new URL('../scripts/web.mjs', import.meta.url).href);
    server = (await startWebServer({ port: 0, dist, log: (l: string) => log.push(l) })) as Server;
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1300, height: 1400 } });
    page.on('console', (m) => log.push(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => log.push(`page error: ${e.message}`));
    const tLoad = Date.now();
    await page.goto(`${base}/?${TINY}&autostart=1`, { timeout: 60_000 });
    type Web = {
      stage: string;
      error: string | null;
      step: number;
      epoch: number;
      counts: Record<string, number>;
      timings: Record<string, number>;
      losses: number[];
    };
    const web = () =>
      page.evaluate(() => {
        const w = (window as any).wgradWeb;
        return { stage: w.stage, error: w.error, step: w.step, epoch: w.epoch, counts: w.counts, timings: w.timings, losses: w.losses };
      }) as Promise<Web>;
    await page.waitForFunction(() => ['done', 'error'].includes((window as any).wgradWeb?.stage), undefined, {
      timeout: 240_000,
      polling: 500,
    });
    const w = await web();
    assert.ok(w.stage === 'done', `the page stopped at '${w.stage}': ${w.error}\n  ${log.join('\n  ')}`);
    const firstStep = w.timings.firstStep - w.timings.pageStart;
    const at = (k: string) => ((w.timings[k] - w.timings.pageStart) / 1000).toFixed(1);
    console.log(
      `  page load to first training step ${(firstStep / 1000).toFixed(1)} s (init done at ${at('init')} s, data + random-encoder features at ${at('data')} s, ` +
        `kNN baselines at ${at('baselines')} s; the first step compiles the training kernels); ` +
        `whole tiny epoch + pictures ${((Date.now() - tLoad) / 1000).toFixed(1)} s; losses ${w.losses.map((l) => l.toFixed(3)).join(', ')}`,
    );

    // Every panel drew.
    assert.is(w.step, 4, '128 images / batch 32 = 4 steps');
    assert.ok(w.losses.every(Number.isFinite), `losses ${w.losses}`);
    assert.ok(w.counts.curvePoints >= 4 + 4 + 1 + 2, `curve points: ${w.counts.curvePoints}`);
    assert.is(w.counts.viewImages, 6 * 3, 'augmentation preview: 6 images × (image, query view, key view)');
    assert.is(w.counts.gridImages, 8 * (1 + 3 * 5), 'retrieval grid: 8 test images, 5 neighbours by 3 encoders');
    assert.is(w.counts.scatterPoints, 50, 'embedding: one point per test image');
    assert.is(w.counts.queuePtr, (4 * 32) % 64, 'queue pointer advanced by 4 batches of 32 (mod K = 64)');
    const text = await page.textContent('body');
    assert.match(text!, /fashion-mnist from \/usr\/share\/datasets\/fashion-mnist\/ \(Debian package dataset-fashion-mnist\)/);
    assert.match(text!, /adapter: .*\(browser, /);
    const naturalSizes = await page.evaluate(() =>
      [...document.querySelectorAll('img.view')].map((i) => (i as HTMLImageElement).naturalWidth),
    );
    assert.ok(
      naturalSizes.every((s) => s === 28),
      `preview images decode as 28 px PNGs: ${naturalSizes}`,
    );

    const shot = await page.screenshot({ fullPage: true });
    writeFileSync(join(tmp, 'page.png'), shot);
    if (process.env.WGRAD_WEB_SCREENSHOT) writeFileSync(process.env.WGRAD_WEB_SCREENSHOT, shot);
    const ink = nonBackgroundFraction(shot);
    console.log(`  screenshot ${shot.length} bytes, ${(100 * ink).toFixed(1)}% of pixels not background`);
    assert.ok(ink > 0.05, `the screenshot is nearly blank (${(100 * ink).toFixed(2)}% non-background pixels)`);

    // The saved run: the CLI's --resume path loads it into the model its config builds.
    const saved = Buffer.from(await page.evaluate(() => Array.from((window as any).wgradWeb.saved as Uint8Array)));
    const pageParams = (await page.evaluate(() => (window as any).wgradWeb.parameters())) as Record<string, number[]>;
    const out = join(tmp, 'run');
    mkdirSync(out);
    writeFileSync(join(out, 'checkpoint.safetensors'), saved);
    const { metadata } = decodeSafetensors(saved);
    const cfg = { ...parseArgs([], TRAIN_OPTIONS, 'test'), ...JSON.parse(metadata['wgrad.config']) } as TrainConfig;
    assert.is(metadata['moco.format'], 'wgrad-moco-run/2', 'the page saves the format the CLI writes');
    assert.equal([cfg.trainSize, cfg.K, cfg.batch, cfg.width, cfg.dim, cfg.epochs], [128, 64, 32, 4, 16, 1]);
    const model = buildModel(cfg, buildEncoder(cfg, 1), cfg.trainSize) as MoCo;
    const opt = new SGD(model.parameters(), { lr: cfg.lr, momentum: 0.9, weightDecay: cfg.wd });
    // As `wgrad-moco train --resume` reads it: config by the CLI's rules, names, shapes, lr, digest.
    const meta = await readMocoCheckpoint(join(out, 'checkpoint.safetensors'), TRAIN_OPTIONS);
    checkMocoTensors(meta, model, opt, { lr: epochLr(cfg, meta.epoch - 1), numbers: { queuePtr: 0 } });
    restoreMoco(meta, model, opt, { dataGen: new Generator(0), augGen: new Generator(0), defaultGen: defaultGenerator });
    assert.is(meta.epoch, 1);
    assert.is(model.queue.ptr, 0);
    const nodeParams = model.encoderQ.stateDict();
    assert.equal(Object.keys(nodeParams).sort(), Object.keys(pageParams).sort());
    for (const [k, t] of Object.entries(nodeParams))
      assert.equal(Array.from(await t.toArray()), pageParams[k], `${k}: Node's loaded value vs the page's`);

    // The page loads the file back (a fresh page), with the same parameters and epoch.
    const page2 = await browser.newPage();
    page2.on('pageerror', (e) => log.push(`page 2 error: ${e.message}`));
    await page2.goto(`${base}/`, { timeout: 60_000 });
    await page2.waitForFunction(() => (window as any).wgradWeb?.stage === 'idle', undefined, { timeout: 60_000 });
    await page2.setInputFiles('#load', join(out, 'checkpoint.safetensors'));
    await page2.waitForFunction(() => ['ready', 'error'].includes((window as any).wgradWeb.stage), undefined, {
      timeout: 120_000,
      polling: 300,
    });
    const loaded = await page2.evaluate(async () => {
      const w = (window as any).wgradWeb;
      return { stage: w.stage, error: w.error, epoch: w.epoch, params: w.stage === 'ready' ? await w.parameters() : null };
    });
    assert.ok(loaded.stage === 'ready', `loading the run back failed: ${loaded.error}`);
    assert.is(loaded.epoch, 1);
    assert.equal(loaded.params, pageParams, 'the reloaded page holds the saved parameters');

    // No WebGPU: the page says so.
    const page3 = await browser.newPage();
    await page3.addInitScript(() => {
      delete (Navigator.prototype as any).gpu;
    });
    await page3.goto(`${base}/`, { timeout: 60_000 });
    await page3.waitForFunction(() => (window as any).wgradWeb?.stage === 'no-webgpu', undefined, { timeout: 30_000 });
    assert.match((await page3.textContent('#nogpu'))!, /WebGPU is not available in this browser \(navigator\.gpu is missing\)/);
  } finally {
    await browser?.close().catch(() => {});
    server?.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test.run();
