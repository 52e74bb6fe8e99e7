// The page of `npm run bench:web` in headless Chromium (test/browser/chromium.ts: a SwiftShader
// adapter): scripts/bench-web.mjs bundles and serves it, the page runs the small sizes, and the
// test checks that every row of the table holds a time for wgrad and for tfjs-backend-webgpu
// (finite, > 0), that the ratio cell is their quotient, and that the JSON in the textarea parses
// and says the same as the table, and that a browser without WebGPU is told so. Without
// /usr/bin/chromium the test is skipped (test/skip.ts).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { skip } from './skip.ts';
import { CHROMIUM, launchChromium } from './browser/chromium.ts';

interface Timed {
  ms: number;
  minMs: number;
  iters: number;
  samples: number;
}
interface Result {
  workload: string;
  size: string;
  wgrad: Timed | string;
  'tfjs-webgpu': Timed | string;
  ratio: number | null;
}

/** The workloads the page must show, in order (bench/web/page.ts, small sizes: one matmul size). */
const WORKLOADS = [
  'matmul',
  'conv2d forward',
  'conv2d backward (input grad)',
  'conv2d backward (weight grad)',
  'MLP training step',
  'MoCo training step',
];

test('bench:web in Chromium: every row gets wgrad and tfjs-webgpu times, the JSON matches the table', async () => {
  if (!existsSync(CHROMIUM)) return skip(`${CHROMIUM} not found (bash scripts/setup.sh --with-browser installs chromium)`);
  const log: string[] = [];
  let server: Server | undefined;
  let browser: Browser | undefined;
  try {
    const t0 = Date.now();
    const { startBenchWebServer } = await import(new URL('../scripts/bench-web.mjs', import.meta.url).href);
    server = (await startBenchWebServer({ port: 0, log: (l: string) => log.push(l) })) as Server;
    const tBuild = Date.now();
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    page.on('console', (m) => log.push(`console.${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => log.push(`page error: ${e.message}`));
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/?size=small&autostart=1`, { timeout: 60_000 });
    const tPage = Date.now();
    // Pipeline compilation on SwiftShader dominates (tens of seconds for tfjs' MoCo step); the bound
    // is for a loaded machine.
    const ended = await page
      .waitForFunction(() => ['done', 'error', 'no-webgpu'].includes((window as any).wgradBench?.stage), undefined, {
        timeout: 300_000,
        polling: 500,
      })
      .then(
        () => true,
        () => false,
      );
    type State = { stage: string; error: string | null; json: string };
    const state = (await page.evaluate(() => {
      const s = (window as any).wgradBench;
      return { stage: s?.stage, error: s?.error, json: s?.json };
    })) as State;
    assert.ok(ended, `the page did not finish in 300 s; it is at '${state.stage}'\n  ${log.join('\n  ')}`);
    assert.ok(state.stage === 'done', `the page stopped at '${state.stage}': ${state.error}\n  ${log.join('\n  ')}`);

    const table = await page.$$eval('#results tbody tr', (trs) =>
      trs.map((tr) => [...(tr as HTMLTableRowElement).cells].map((c) => c.textContent ?? '')),
    );
    const textarea = await page.inputValue('#json');
    assert.is(textarea, state.json, 'the textarea holds the JSON of the run');
    const json = JSON.parse(textarea) as {
      sizes: string;
      adapter: { backend: string; vendor: string; architecture: string; description: string };
      results: Result[];
    };
    assert.is(json.sizes, 'small');
    assert.is(json.adapter.backend, 'browser', 'wgrad in the page runs on navigator.gpu');
    assert.match((await page.textContent('#adapter'))!, /^adapter: .*\(browser, /);
    assert.equal(
      table.map((r) => r[0]),
      WORKLOADS,
      'one row per workload, in order',
    );
    assert.equal(
      json.results.map((r) => r.workload),
      WORKLOADS,
      'the JSON lists the rows of the table',
    );
    const lines: string[] = [];
    for (const [i, r] of json.results.entries()) {
      const [name, size, mine, theirs, ratio] = table[i];
      assert.is(size, r.size, `${name}: size`);
      for (const [engine, text] of [
        ['wgrad', mine],
        ['tfjs-webgpu', theirs],
      ] as const) {
        const t = r[engine];
        assert.ok(typeof t === 'object', `${name}: ${engine} has no time: ${t}\n  ${log.join('\n  ')}`);
        assert.ok(Number.isFinite(t.ms) && t.ms > 0 && t.minMs > 0 && t.minMs <= t.ms, `${name}: ${engine} ms ${t.ms}, min ${t.minMs}`);
        const shown = Number(text);
        const tolerance = t.ms >= 100 ? 0.5 : 0.005 * t.ms; // the cell: whole ms from 100 on, else 3 significant digits
        assert.ok(Math.abs(shown - t.ms) <= tolerance, `${name}: ${engine} cell '${text}' vs JSON ${t.ms} ms`);
      }
      const want = (r['tfjs-webgpu'] as Timed).ms / (r.wgrad as Timed).ms;
      assert.ok(r.ratio !== null && Math.abs(r.ratio - want) <= 1e-9 * want, `${name}: JSON ratio ${r.ratio}, times give ${want}`);
      assert.ok(Math.abs(Number(ratio) - want) <= 0.005 + 1e-9, `${name}: ratio cell '${ratio}', times give ${want}`);
      lines.push(`${name} (${size}): wgrad ${mine} ms, tfjs-webgpu ${theirs} ms, ratio ${ratio}`);
    }

    // No WebGPU: the page says so instead of failing somewhere inside.
    const bare = await browser.newPage();
    await bare.addInitScript(() => {
      delete (Navigator.prototype as any).gpu;
    });
    await bare.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { timeout: 60_000 });
    await bare.waitForFunction(() => (window as any).wgradBench?.stage === 'no-webgpu', undefined, { timeout: 30_000 });
    assert.match((await bare.textContent('#nogpu'))!, /WebGPU is not available in this browser \(navigator\.gpu is missing\)/);

    const s = (a: number, b: number) => ((b - a) / 1000).toFixed(1);
    const adapter = [json.adapter.vendor, json.adapter.architecture, json.adapter.description].filter(Boolean).join(' ');
    console.log(
      `  ${adapter} (SwiftShader: the ratios are no measure of speed on a GPU); ` +
        `bundle + server ${s(t0, tBuild)} s, browser start ${s(tBuild, tPage)} s, small run ${s(tPage, Date.now())} s\n` +
        `  ${lines.join('\n  ')}`,
    );
  } finally {
    await browser?.close().catch(() => {});
    server?.close();
  }
});

test.run();
