// The page of `npm run bench:web` (bundled by scripts/bench-web.mjs): the workloads of
// bench/workloads.ts timed with wgrad and with tfjs-backend-webgpu on this browser's GPU, both on
// one GPUDevice (wgrad's), with the Node harness's round-robin timing (bench/measure.ts).
// ?size=small picks the small sizes, ?autostart=1 runs at once; window.wgradBench exposes the
// state to test/bench-web.test.ts.

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { init, sync, tidy, type DeviceInfo } from '../../src/index.ts';
import { device } from '../../src/runtime.ts';
import { conv2d } from '../../src/ops/conv.ts';
import { measureAll, firstLine, type Candidate, type MeasureOptions, type Outcome, type PeerWork } from '../measure.ts';
import {
  matmulWgrad,
  matmulTfjs,
  convWgrad,
  convTfjs,
  mlpWgrad,
  mlpTfjs,
  mocoModules,
  mocoWgrad,
  type ConvShape,
  type MlpShape,
} from '../workloads.ts';
import { mocoStepTfjs } from '../peers/moco-tfjs.ts';
import { useTfjsWebgpu } from '../peers/tfjs-webgpu.ts';

type Size = 'full' | 'small';

/** One row: wgrad's step and tfjs' work on the same problem, made when the row runs. */
interface Workload {
  name: string;
  size: string;
  make: () => Promise<{ wgrad: () => unknown; tfjs: () => PeerWork; dispose: () => void }>;
}

// Full sizes are the Node harness's (bench/run.ts without --quick); small ones run in seconds on SwiftShader.
const SIZES = {
  full: {
    matmul: [256, 1024, 2048],
    conv: { N: 128, C: 16, H: 28, W: 28, Co: 16, k: 3 },
    mlp: { B: 128, D: 784, H: 512, O: 10 },
    moco: {},
    timing: { samples: 5, sampleMs: 400, slowMs: 3000, skipMs: () => 120_000 },
  },
  small: {
    matmul: [128],
    conv: { N: 4, C: 16, H: 28, W: 28, Co: 16, k: 3 },
    mlp: { B: 16, D: 784, H: 64, O: 10 },
    moco: { batch: 8, width: 4, K: 32 },
    timing: { samples: 3, sampleMs: 20, slowMs: 300, skipMs: () => 60_000 },
  },
} satisfies Record<Size, { matmul: number[]; conv: ConvShape; mlp: MlpShape; moco: object; timing: MeasureOptions }>;

function workloads(size: Size): Workload[] {
  const s = SIZES[size];
  const list: Workload[] = s.matmul.map((S) => ({
    name: 'matmul',
    size: `${S}×${S}·${S}×${S}`,
    make: async () => {
      const m = matmulWgrad(S);
      return { wgrad: m.step, tfjs: () => matmulTfjs(tf, S), dispose: m.dispose };
    },
  }));
  const c = s.conv;
  const convSize = `x ${c.N}×${c.C}×${c.H}×${c.W}, w ${c.Co}×${c.C}×${c.k}×${c.k}`;
  const convRows = [
    ['forward', 'conv2d forward'],
    ['input_grad', 'conv2d backward (input grad)'],
    ['weight_grad', 'conv2d backward (weight grad)'],
  ] as const;
  for (const [which, name] of convRows) {
    list.push({
      name,
      size: convSize,
      make: async () => {
        const cw = convWgrad(conv2d, c);
        const mine = which === 'forward' ? cw.forward : which === 'input_grad' ? cw.inputGrad : cw.weightGrad;
        return { wgrad: mine, tfjs: () => convTfjs(tf, c, which), dispose: cw.dispose };
      },
    });
  }
  const m = s.mlp;
  list.push({
    name: 'MLP training step',
    size: `${m.D}-${m.H}-${m.H}-${m.O}, batch ${m.B}`,
    make: async () => {
      const w = mlpWgrad(m);
      return { wgrad: w.trainStep, tfjs: () => mlpTfjs(tf, m), dispose: w.dispose };
    },
  });
  const moco: Workload = {
    name: 'MoCo training step',
    size: 'CLI default config',
    make: async () => {
      const w = mocoWgrad(await mocoModules(), s.moco);
      moco.size = `${w.cfg.encoder} width ${w.cfg.width}, batch ${w.B}, K ${w.cfg.K}, dim ${w.cfg.dim}`;
      return { wgrad: w.step, tfjs: () => mocoStepTfjs(tf, w.peer), dispose: w.dispose };
    },
  };
  list.push(moco);
  return list;
}

// ---- state, shown in the page and exposed to the test ----------------------------------------------

interface Result {
  workload: string;
  size: string;
  wgrad: Outcome;
  'tfjs-webgpu': Outcome;
  ratio: number | null;
}
const state = {
  stage: 'loading' as string,
  error: null as string | null,
  adapter: null as (DeviceInfo & { userAgent: string }) | null,
  results: [] as Result[],
  json: '',
};
(window as unknown as { wgradBench: typeof state }).wgradBench = state;

const $ = <E extends HTMLElement>(id: string) => document.getElementById(id) as E;
const setStatus = (s: string) => void ($('status').textContent = s);

/** Milliseconds as the table shows them: 3 significant digits, whole numbers from 100 on. */
const fmtMs = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms.toPrecision(3));

function cell(tr: HTMLTableRowElement, o: Outcome | number | null | undefined, what: string): void {
  const td = tr.insertCell();
  td.dataset.col = what;
  if (o === undefined) td.textContent = '…';
  else if (o === null) td.textContent = '-';
  else if (typeof o === 'string') {
    td.textContent = o;
    td.className = 'err';
  } else {
    const v = typeof o === 'number' ? o : o.ms;
    td.textContent = what === 'ratio' ? v.toFixed(2) : fmtMs(v);
    td.className = 'num';
  }
}

function showRow(tr: HTMLTableRowElement, w: Workload, r?: Result): void {
  while (tr.cells.length) tr.deleteCell(0);
  tr.insertCell().textContent = w.name;
  tr.insertCell().textContent = r?.size ?? w.size;
  cell(tr, r?.wgrad, 'wgrad');
  cell(tr, r?.['tfjs-webgpu'], 'tfjs-webgpu');
  cell(tr, r ? r.ratio : undefined, 'ratio');
}

async function run(size: Size): Promise<void> {
  $<HTMLButtonElement>('run').disabled = true;
  $<HTMLButtonElement>('copy').disabled = true;
  $<HTMLTextAreaElement>('json').value = '';
  state.results = [];
  state.json = '';
  const list = workloads(size);
  const body = $<HTMLTableElement>('results').tBodies[0];
  body.replaceChildren();
  const trs = list.map((w) => {
    const tr = body.insertRow();
    showRow(tr, w);
    return tr;
  });
  const settleTf = await useTfjsWebgpu(tf, WebGPUBackend, device().gpu, (p) => device().wait(p));
  const t0 = performance.now();
  for (const [i, w] of list.entries()) {
    state.stage = `running ${w.name} (${i + 1} of ${list.length})`;
    setStatus(`${state.stage}…`);
    let outcomes: [Outcome, Outcome];
    try {
      const made = await w.make();
      const mine: Candidate = { step: () => void tidy(() => void made.wgrad()), settle: sync };
      let peer: PeerWork | string;
      try {
        peer = made.tfjs();
      } catch (e) {
        peer = `failed: ${firstLine(e)}`;
      }
      const theirs: Candidate | null = typeof peer === 'string' ? null : { step: () => tf.tidy((peer as PeerWork).step), settle: settleTf };
      const t = await measureAll(theirs ? [mine, theirs] : [mine], SIZES[size].timing);
      outcomes = [t[0], theirs ? t[1] : (peer as string)];
      made.dispose();
      if (typeof peer !== 'string') peer.dispose();
    } catch (e) {
      outcomes = [`failed: ${firstLine(e)}`, 'not run'];
    }
    const [a, b] = outcomes;
    const ratio = typeof a !== 'string' && typeof b !== 'string' ? b.ms / a.ms : null;
    const r: Result = { workload: w.name, size: w.size, wgrad: a, 'tfjs-webgpu': b, ratio };
    state.results.push(r);
    showRow(trs[i], w, r);
  }
  const json = {
    page: 'wgrad npm run bench:web (bench/web/page.ts)',
    date: new Date().toISOString(),
    sizes: size,
    adapter: state.adapter,
    ratio: 'tfjs-webgpu ms / wgrad ms (> 1: wgrad is faster)',
    results: state.results,
  };
  state.json = JSON.stringify(json, null, 1);
  $<HTMLTextAreaElement>('json').value = state.json;
  $<HTMLButtonElement>('copy').disabled = false;
  $<HTMLButtonElement>('run').disabled = false;
  state.stage = 'done';
  setStatus(`done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

async function copyJson(): Promise<void> {
  const area = $<HTMLTextAreaElement>('json');
  try {
    await navigator.clipboard.writeText(area.value);
  } catch {
    area.select(); // no clipboard permission (plain http on another host): select it for Ctrl-C
    document.execCommand('copy');
  }
  $('copied').textContent = 'copied';
}

async function main(): Promise<void> {
  if (!('gpu' in navigator) || !navigator.gpu) {
    $('nogpu').style.display = 'block';
    $('nogpu').textContent =
      'WebGPU is not available in this browser (navigator.gpu is missing), so nothing can be timed here. ' +
      'Use a browser with WebGPU enabled (Chrome/Edge 113+, or Chromium with --enable-unsafe-webgpu), ' +
      'or run `npm run bench -- --peers` in a terminal.';
    state.stage = 'no-webgpu';
    return;
  }
  const params = new URLSearchParams(location.search);
  const size: Size = params.get('size') === 'small' ? 'small' : 'full';
  $<HTMLSelectElement>('size').value = size;
  const info = await init();
  state.adapter = { ...info, userAgent: navigator.userAgent };
  $('adapter').textContent =
    `adapter: ${[info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || '(no info)'} ` +
    `(${info.backend}, ${info.family}); ${navigator.userAgent}`;
  $('run').onclick = () => void run($<HTMLSelectElement>('size').value as Size).catch(fail);
  $('copy').onclick = () => void copyJson();
  state.stage = 'idle';
  setStatus('ready: pick the sizes and press Run');
  if (params.get('autostart') === '1') await run(size);
}

function fail(e: unknown): void {
  state.stage = 'error';
  state.error = e instanceof Error ? (e.stack ?? e.message) : String(e);
  setStatus(`error: ${firstLine(e)}`);
  console.error(state.error);
}

main().catch(fail);
