// wgrad benchmarks: matmul (every kernel variant), an elementwise chain against a copy kernel,
// a 16M-element reduction, conv2d forward/backward, an MLP training step and the MoCo training
// step of the default config. Each result is the median of several samples taken after a warm-up
// (compiles the pipelines); a sample times N iterations closed by `await sync()`. CPU time of the
// process (the lavapipe worker threads run inside it) is recorded too: cpu/wall shows how much
// of the machine the run actually got.
//
//   npx tsx bench/run.ts [--quick] [--only matmul,elementwise,reduce,conv,mlp,moco,resnet50] [--big]
//                        [--peers[=NAME,...]] [--json FILE] [--md FILE] [--svg FILE] [--no-write]
//
// --big adds 4096² matmuls. --peers runs the workloads through the JavaScript peers too:
// tfjs-backend-webgpu and webgpu-torch on wgrad's own GPUDevice (same Dawn device, same queue)
// and tfjs-backend-wasm (SIMD, CPU), reported as throughput ratios wgrad/peer measured in the
// same run (webgpu-torch only where it can: matmul, sum, conv2d forward; see bench/peers/), and
// PyTorch on the CPU (torch-cpu: one python process, bench/peers/torch_cpu.py) on matmul, conv,
// the MLP and the MoCo step, reported as wgrad time / PyTorch time (> 1: PyTorch is faster).
// Results go to the console, bench/RESULTS.md (this run's section between bench
// markers — one section per --only set; the notes around it are kept), bench/results.svg, and
// --json FILE.

import * as fs from 'node:fs';
import * as os from 'node:os';
import { createRequire } from 'node:module';
import { init, shutdown, sync, deviceInfo, randn, rand, tidy, keep, noGrad, nn, capture, stats, fuse } from '../src/index.ts';
import { device } from '../src/runtime.ts';
import { map } from '../src/ops/map.ts';
import { matmulRaw, matmulPlan, setMatmulKernel, type MatmulKernel } from '../src/ops/matmul.ts';
import { measureAll as measureWith, firstLine, median, type Candidate, type Outcome, type Timing, type PeerWork } from './measure.ts';
import {
  matmulWgrad,
  matmulTfjs,
  matmulFlops,
  convWgrad,
  convTfjs,
  convFlops,
  mlpWgrad,
  mlpTfjs,
  mlpFlops,
  mocoModules,
  mocoWgrad,
  type ConvShape,
} from './workloads.ts';
import { useTfjsWebgpu } from './peers/tfjs-webgpu.ts';
import { mocoStepTfjs } from './peers/moco-tfjs.ts';
import { resnet50Tfjs } from './peers/resnet50-tfjs.ts';
import { setupWebgpuTorch, randomTensor, destroy, type WebgpuTorch } from './peers/webgpu-torch.ts';
import { TorchCpu } from './peers/torch-cpu.ts';

// ---- options ----------------------------------------------------------------------------------

const GROUPS = ['matmul', 'elementwise', 'reduce', 'conv', 'mlp', 'moco', 'resnet50'] as const;
type Group = (typeof GROUPS)[number];
const TORCH = 'torch-cpu';
const PEER_NAMES = ['tfjs-webgpu', 'webgpu-torch', 'tfjs-wasm', TORCH];

function parseOptions(argv: string[]) {
  const o = {
    quick: false,
    big: false,
    peers: false,
    peerList: [] as string[],
    write: true,
    only: [...GROUPS] as Group[],
    json: '',
    md: 'bench/RESULTS.md',
    svg: '',
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i] ?? '';
    switch (flag) {
      case '--quick':
        o.quick = true;
        break;
      case '--big':
      case '--4096':
        o.big = true;
        break;
      // --peers=torch-cpu,tfjs-wasm runs only those peers (a short run against one of them).
      case '--peers': {
        o.peers = true;
        o.peerList = inline ? inline.split(',') : [];
        for (const p of o.peerList)
          if (!PEER_NAMES.includes(p)) throw new Error(`bench: --peers=${p}: unknown peer (peers: ${PEER_NAMES.join(', ')})`);
        break;
      }
      case '--no-write':
        o.write = false;
        break;
      case '--json':
        o.json = value();
        break;
      case '--md':
        o.md = value();
        break;
      case '--svg':
        o.svg = value();
        break;
      case '--only': {
        const list = value().split(',').filter(Boolean);
        for (const g of list)
          if (!(GROUPS as readonly string[]).includes(g))
            throw new Error(`bench: --only ${g}: unknown group (groups: ${GROUPS.join(', ')})`);
        o.only = list as Group[];
        break;
      }
      case '--help':
      case '-h':
        console.log(
          'usage: npx tsx bench/run.ts [--quick] [--only ' +
            GROUPS.join(',') +
            '] [--big] [--peers[=' +
            PEER_NAMES.join(',') +
            ']] [--json FILE] [--md FILE] [--svg FILE] [--no-write]',
        );
        process.exit(0);
      // falls through (process.exit does not return)
      default:
        throw new Error(`bench: unknown option ${argv[i]} (see --help)`);
    }
  }
  return o;
}

const opts = parseOptions(process.argv.slice(2));
const SAMPLES = opts.quick ? 3 : 5;
const SAMPLE_MS = opts.quick ? 150 : 400; // aim for samples at least this long
const SLOW_MS = 3000; // an iteration slower than this is timed once
const SKIP_MS = 15000; // and one (expected to be) slower than this is skipped
let skipMs = SKIP_MS; // raised for the MoCo step, where the peers are that slow

// ---- timing (bench/measure.ts) ----------------------------------------------------------------

const processCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const measureAll = (cands: Candidate[]): Promise<Outcome[]> =>
  measureWith(cands, { samples: SAMPLES, sampleMs: SAMPLE_MS, slowMs: SLOW_MS, skipMs: () => skipMs, cpuMs: processCpuMs });

/** A wgrad candidate: `fn` under tidy (its tensors are disposed), finished by `await sync()`. */
const wgrad = (fn: () => unknown, estimateMs?: number): Candidate => ({ step: () => void tidy(() => void fn()), settle: sync, estimateMs });

// ---- results ----------------------------------------------------------------------------------

type Unit = 'GFLOP/s' | 'GB/s' | 'steps/s';
interface Result {
  value: number;
  ms: number;
  cpu: number;
}
interface Row {
  group: Group;
  name: string;
  detail: string; // kernel / variant actually run
  unit: Unit;
  value: number | null; // null: skipped or failed (see note)
  ms: number | null;
  cpu: number | null;
  note?: string;
  peers: Record<string, Result | string>; // peer name → result or why it did not run
}

const rows: Row[] = [];
/** Measurements that are not throughputs, printed under the table. */
const findings: string[] = [];
const skippedGroups: string[] = [];

function toResult(unit: Unit, work: number, t: Timing): Result {
  return { value: unit === 'steps/s' ? 1000 / t.ms : work / t.ms / 1e6, ms: t.ms, cpu: t.cpu };
}

function addRow(group: Group, name: string, detail: string, unit: Unit, work: number, t: Outcome): Row {
  const r = typeof t === 'string' ? null : toResult(unit, work, t);
  const row: Row = { group, name, detail, unit, value: r?.value ?? null, ms: r?.ms ?? null, cpu: r?.cpu ?? null, peers: {} };
  if (typeof t === 'string') row.note = t;
  rows.push(row);
  const v = r ? `${fmtNum(r.value)} ${unit}  (${fmtMs(r.ms)} per iteration, cpu/wall ${r.cpu.toFixed(2)})` : t;
  console.log(`  ${name.padEnd(34)} ${detail.padEnd(26)} ${v}`);
  return row;
}

function addPeer(row: Row, peer: string, work: number, t: Outcome): void {
  const r = typeof t === 'string' ? t : toResult(row.unit, work, t);
  row.peers[peer] = r;
  const ratio =
    typeof r === 'string' || !row.value
      ? ''
      : peer === TORCH
        ? `; wgrad time / ${peer} time = ${(r.value / row.value).toFixed(2)}`
        : `; wgrad/${peer} = ${(row.value / r.value).toFixed(2)}`;
  console.log(
    `    ${peer.padEnd(32)} ${typeof r === 'string' ? r : `${fmtNum(r.value)} ${row.unit}  (${fmtMs(r.ms)}, cpu/wall ${r.cpu.toFixed(2)})${ratio}`}`,
  );
}

const fmtNum = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toPrecision(2));
const fmtMs = (ms: number) =>
  ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : ms >= 1 ? `${ms.toFixed(ms >= 100 ? 0 : 1)} ms` : `${(ms * 1000).toFixed(0)} µs`;

// ---- peers (TensorFlow.js, webgpu-torch) ------------------------------------------------------

type TF = typeof import('@tensorflow/tfjs-core');
/** A peer library on one backend: `tf` (TensorFlow.js, with `backend`), `torch` (webgpu-torch) or `py` (PyTorch CPU). */
interface Peer {
  name: string;
  tf?: TF;
  backend?: string;
  torch?: WebgpuTorch;
  py?: TorchCpu;
  settle: () => Promise<void>;
}
const peers: Peer[] = [];
const peerErrors: Record<string, string> = {};
let navigatorGpu: unknown = null; // the Dawn GPU object tfjs checks for; kept referenced while tfjs lives

/**
 * tfjs-core's Node bundle has no gradient functions (the @tensorflow/tfjs union package adds
 * them) and its ES-module files use extensionless imports that Node cannot load, so the gradient
 * registrations are bundled here with esbuild (a dependency of tsx). The registries live on
 * globalThis, so they reach the engine of the Node bundle.
 */
async function registerTfGradients(): Promise<void> {
  const require = createRequire(import.meta.url);
  const esbuild = await import('esbuild');
  const entry = require.resolve('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  const code = esbuild.buildSync({ entryPoints: [entry], bundle: true, write: false, format: 'cjs', platform: 'node', logLevel: 'silent' })
    .outputFiles[0].text;
  const mod = { exports: {} };
  new Function('require', 'module', 'exports', code)(require, mod, mod.exports);
}

async function setupPeers(): Promise<void> {
  let tf: TF;
  try {
    tf = await import('@tensorflow/tfjs-core');
  } catch (e) {
    peerErrors['tfjs'] = `@tensorflow/tfjs-core not installed (npm install): ${firstLine(e)}`;
    return;
  }
  try {
    await registerTfGradients();
  } catch (e) {
    peerErrors['tfjs gradients'] = `training steps cannot run (${firstLine(e)})`;
  }
  try {
    // tfjs-backend-webgpu registers itself only where navigator.gpu exists. Node 20 has no
    // navigator: give it a Dawn GPU object (create() of the npm webgpu package), then run the
    // backend on wgrad's own GPUDevice so both libraries share one Dawn device and queue.
    const dawn = await import('webgpu');
    navigatorGpu = dawn.create([]);
    const g = globalThis as { navigator?: { gpu?: unknown } };
    if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: { gpu: navigatorGpu }, configurable: true, writable: true });
    else if (!g.navigator.gpu) Object.defineProperty(g.navigator, 'gpu', { value: navigatorGpu, configurable: true });
    const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
    const settle = await useTfjsWebgpu(tf, WebGPUBackend, device().gpu, (p) => device().wait(p));
    peers.push({ name: 'tfjs-webgpu', tf, backend: 'webgpu', settle });
  } catch (e) {
    peerErrors['tfjs-webgpu'] = firstLine(e);
  }
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend('wasm'))) throw new Error('setBackend(wasm) returned false');
    const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
    const threads = tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT');
    peers.push({ name: 'tfjs-wasm', tf, backend: 'wasm', settle: async () => {} });
    console.log(`  tfjs-wasm: SIMD ${simd ? 'on' : 'off'}, threads ${threads ? 'on' : 'off'}`);
  } catch (e) {
    peerErrors['tfjs-wasm'] = firstLine(e);
  }
}

async function setupTorchPeer(): Promise<void> {
  try {
    const torch = await setupWebgpuTorch(device().gpu);
    // webgpu-torch submits each kernel itself: waiting for the queue is all its settle needs.
    peers.push({ name: 'webgpu-torch', torch, settle: () => device().wait(device().gpu.queue.onSubmittedWorkDone()) });
  } catch (e) {
    peerErrors['webgpu-torch'] = `not available (npm install): ${firstLine(e)}`;
  }
}

async function setupTorchCpuPeer(): Promise<void> {
  const py = await TorchCpu.start();
  if (typeof py === 'string') peerErrors[TORCH] = `skipped: ${py}`;
  else {
    peers.push({ name: TORCH, py, settle: async () => {} });
    console.log(`  ${TORCH}: PyTorch ${py.version}, ${py.threads} thread(s) (torch's default)`);
  }
}

/**
 * A workload per peer library; peers without one are not run (their cells stay empty). `py` names
 * a workload of bench/peers/torch_cpu.py and its arguments.
 */
interface PeerMakers {
  tf?: (tf: TF) => PeerWork;
  torch?: (torch: WebgpuTorch) => PeerWork;
  py?: [string, Record<string, unknown>];
}

/**
 * webgpu-torch does not throw on WebGPU validation errors (they surface as uncaptured errors on
 * the shared device): one step inside an error scope says whether the workload really runs.
 */
async function validated(w: PeerWork): Promise<void> {
  const gpu = device().gpu;
  gpu.pushErrorScope('validation');
  w.step();
  const err = await gpu.popErrorScope();
  if (err) throw new Error(err.message.split('\n')[0]);
}

/** A peer's candidate for one workload, or why it cannot run it. */
interface PeerCandidate {
  name: string;
  cand: Candidate | string;
  dispose: () => Promise<void>;
}

/**
 * Times wgrad's candidates and the runnable peers together (round-robin, measureAll): wgrad's
 * outcomes in order, and each peer's (its failure where it could not run). Disposes the peers.
 */
async function measureWithPeers(mine: Candidate[], ps: PeerCandidate[]): Promise<{ mine: Outcome[]; peers: [string, Outcome][] }> {
  const runnable = ps.filter((p) => typeof p.cand !== 'string');
  const t = await measureAll([...mine, ...runnable.map((p) => p.cand as Candidate)]);
  for (const p of ps) await p.dispose();
  return {
    mine: t.slice(0, mine.length),
    peers: ps.map((p) => [p.name, typeof p.cand === 'string' ? p.cand : t[mine.length + runnable.indexOf(p)]]),
  };
}

/** Candidates running each peer's workload from `make` (an empty list without --peers). */
async function peerCandidates(make: PeerMakers, estimate?: (peer: string) => number | undefined) {
  const list: PeerCandidate[] = [];
  if (!opts.peers) return list;
  for (const p of peers) {
    if (opts.peerList.length && !opts.peerList.includes(p.name)) continue;
    if (p.tf && make.tf) {
      const tf = p.tf;
      const enter = async () => void (await tf.setBackend(p.backend!));
      try {
        await enter();
        const w = make.tf(tf);
        list.push({
          name: p.name,
          cand: { step: () => tf.tidy(w.step), settle: p.settle, enter, estimateMs: estimate?.(p.name) },
          dispose: async () => {
            await enter();
            w.dispose();
          },
        });
      } catch (e) {
        list.push({ name: p.name, cand: `failed: ${firstLine(e)}`, dispose: async () => {} });
      }
    } else if (p.torch && make.torch) {
      let w: PeerWork | null = null;
      try {
        w = make.torch(p.torch);
        await validated(w);
        list.push({
          name: p.name,
          cand: { step: w.step, settle: p.settle, estimateMs: estimate?.(p.name) },
          dispose: async () => w!.dispose(),
        });
      } catch (e) {
        w?.dispose();
        list.push({ name: p.name, cand: `failed: ${firstLine(e)}`, dispose: async () => {} });
      }
    } else if (p.py && make.py) {
      try {
        const w = await p.py.work(...make.py);
        list.push({
          name: p.name,
          cand: { step: w.step, settle: w.settle, cpuMs: w.cpuMs, estimateMs: estimate?.(p.name) },
          dispose: w.dispose,
        });
      } catch (e) {
        list.push({ name: p.name, cand: `failed: ${firstLine(e)}`, dispose: async () => {} });
      }
    }
  }
  return list;
}

/** Times wgrad's candidate and the peers' together; returns wgrad's row with the peers attached. */
async function compare(
  group: Group,
  name: string,
  detail: string,
  unit: Unit,
  work: number,
  mine: Candidate,
  make?: PeerMakers,
): Promise<Row> {
  const t = await measureWithPeers([mine], make ? await peerCandidates(make) : []);
  const row = addRow(group, name, detail, unit, work, t.mine[0]);
  for (const [peer, outcome] of t.peers) addPeer(row, peer, work, outcome);
  return row;
}

// ---- benchmarks -------------------------------------------------------------------------------

async function benchMatmul(): Promise<void> {
  console.log('matmul (C = A·B, square, f32; every kernel variant this adapter can run, timed together)');
  const sizes = opts.quick ? [256, 512, 1024] : [256, 512, 1024, 2048];
  if (opts.big) sizes.push(4096);
  const variants: (MatmulKernel | null)[] = [null, 'generic', 'vec4', 'tiled'];
  const lastMs = new Map<string, number>(); // per variant / peer: time at the previous size
  const estimate = (key: string) => (lastMs.has(key) ? lastMs.get(key)! * 8 : undefined);
  for (const S of sizes) {
    const operands = matmulWgrad(S);
    const { a, b } = operands;
    const flops = matmulFlops(S);
    const mine: { v: MatmulKernel | null; detail: string; cand: Candidate }[] = [];
    for (const v of variants) {
      setMatmulKernel(v);
      const plan = matmulPlan(a, b);
      if (v && plan.kernel !== v) continue; // this adapter cannot run it (the auto row says why)
      mine.push({
        v,
        detail: plan.detail,
        cand: { ...wgrad(() => matmulRaw(a, b), estimate(v ?? 'auto')), enter: async () => void setMatmulKernel(v) },
      });
    }
    const ps = await peerCandidates(
      {
        tf: (tf) => matmulTfjs(tf, S),
        torch: (torch) => {
          const [x, y] = [randomTensor(torch, [S, S]), randomTensor(torch, [S, S])];
          return { step: () => destroy(x.mm(y)), dispose: () => destroy(x, y) };
        },
        py: ['matmul', { S }],
      },
      estimate,
    );
    const t = await measureWithPeers(
      mine.map((m) => m.cand),
      ps,
    );
    setMatmulKernel(null);
    mine.forEach((m, i) => {
      const row = addRow('matmul', `matmul ${S}² ${m.v ? `(forced ${m.v})` : '(auto)'}`, m.detail, 'GFLOP/s', flops, t.mine[i]);
      lastMs.set(m.v ?? 'auto', row.ms ?? Infinity);
      if (m.v) return;
      for (const [peer, outcome] of t.peers) {
        addPeer(row, peer, flops, outcome);
        lastMs.set(peer, typeof outcome === 'string' ? Infinity : outcome.ms);
      }
    });
    operands.dispose();
  }
  // The layouts of a training step: x·Wᵀ (linear forward) and gᵀ·x (weight gradient).
  const S = opts.quick ? 512 : 1024;
  const x = keep(randn([S, S]));
  const w = keep(randn([S, S]));
  const [wt, xt] = [w.T, x.T];
  const t = await measureAll([wgrad(() => matmulRaw(x, w)), wgrad(() => matmulRaw(x, wt)), wgrad(() => matmulRaw(xt, w))]);
  addRow('matmul', `matmul ${S}² x·W`, matmulPlan(x, w).detail, 'GFLOP/s', 2 * S ** 3, t[0]);
  addRow('matmul', `matmul ${S}² x·Wᵀ (linear forward)`, matmulPlan(x, wt).detail, 'GFLOP/s', 2 * S ** 3, t[1]);
  addRow('matmul', `matmul ${S}² xᵀ·W (weight gradient)`, matmulPlan(xt, w).detail, 'GFLOP/s', 2 * S ** 3, t[2]);
  for (const v of [x, w, wt, xt]) v.dispose();
}

async function benchElementwise(): Promise<void> {
  const n = opts.quick ? 4 << 20 : 16 << 20;
  console.log(`elementwise (${n >> 20}M floats; GB/s counts one read + one write per element)`);
  const x = keep(randn([n]));
  const bytes = 8 * n;
  const chain = fuse((v) => v.mul(2).add(1).relu().sqrt());
  const t = await measureAll([
    wgrad(() => map([x], 'x0', 'copy')),
    wgrad(() => map([x], 'sqrt(max(x0 * 2.0 + 1.0, 0.0))', 'chain')),
    wgrad(() => chain(x)),
  ]);
  addRow('elementwise', 'copy (bandwidth reference)', 'map x0', 'GB/s', bytes, t[0]);
  addRow('elementwise', 'chain of 4 ops, fused', 'one map dispatch', 'GB/s', bytes, t[1]);
  addRow('elementwise', 'chain of 4 ops, fuse()', 'traced, one map dispatch', 'GB/s', bytes, t[2]);
  // The peers run the same four ops, one kernel each (TensorFlow.js does not fuse them).
  // (webgpu-torch has no scalar or broadcast operands, so it cannot run this chain as such.)
  await compare(
    'elementwise',
    'chain of 4 ops, one kernel each',
    'mul, add, relu, sqrt',
    'GB/s',
    bytes,
    wgrad(() => x.mul(2).add(1).relu().sqrt()),
    {
      tf: (tf) => {
        const v = tf.randomNormal([n]);
        return { step: () => void tf.sqrt(tf.relu(tf.add(tf.mul(v, 2), 1))), dispose: () => v.dispose() };
      },
    },
  );
  x.dispose();
}

async function benchReduce(): Promise<void> {
  const n = opts.quick ? 4 << 20 : 16 << 20;
  console.log(`reduce (sum of ${n >> 20}M floats; GB/s counts one read per element)`);
  const x = keep(randn([n]));
  await compare(
    'reduce',
    `sum of ${n >> 20}M`,
    'partial sums + combine',
    'GB/s',
    4 * n,
    wgrad(() => x.sum()),
    {
      tf: (tf) => {
        const v = tf.randomNormal([n]);
        return { step: () => void tf.sum(v), dispose: () => v.dispose() };
      },
      torch: (torch) => {
        const v = randomTensor(torch, [n]);
        return { step: () => destroy(v.sum()), dispose: () => destroy(v) };
      },
    },
  );
  x.dispose();
}

async function benchConv(): Promise<void> {
  let conv2d: typeof import('../src/ops/conv.ts').conv2d;
  try {
    ({ conv2d } = await import('../src/ops/conv.ts'));
  } catch (e) {
    skippedGroups.push(`conv: src/ops/conv.ts does not load (${firstLine(e)})`);
    console.log(`conv: skipped (${skippedGroups.at(-1)})`);
    return;
  }
  // The MoCo ConvNet's (width 16) second layer at batch 128: 16 → 16 channels, 28×28, 3×3, padding 1.
  const shape: ConvShape = { N: opts.quick ? 32 : 128, C: 16, H: 28, W: 28, Co: 16, k: 3 };
  const { N, C, H, W, Co, k } = shape;
  const flops = convFlops(shape);
  console.log(`conv2d (x [${N}, ${C}, ${H}, ${W}], w [${Co}, ${C}, ${k}, ${k}], padding 1; backward = one gradient)`);
  const conv = convWgrad(conv2d, shape);
  const { x, w } = conv;
  const b = keep(randn([Co], { std: 0.1 }));
  // The peers' forward: tfjs in its NHWC layout; webgpu-torch (no padding option) on an input
  // padded beforehand, which gives the same output and FLOPs.
  const ps = await peerCandidates({
    tf: (tf) => convTfjs(tf, shape),
    torch: (torch) => {
      const [v, f] = [randomTensor(torch, [N, C, H + k - 1, W + k - 1]), randomTensor(torch, [Co, C, k, k])];
      return { step: () => destroy(torch.conv2d(v, f)), dispose: () => destroy(v, f) };
    },
    py: ['conv', { ...shape, which: 'forward' }],
  });
  // PyTorch also runs the backward rows (autograd's convolution_backward, one gradient each) and the fused one.
  const owner: string[] = ps.map(() => 'forward'); // the row each peer candidate belongs to
  for (const which of ['input_grad', 'weight_grad', 'bias_relu']) {
    const more = await peerCandidates({ py: ['conv', { ...shape, which }] });
    ps.push(...more);
    owner.push(...more.map(() => which));
  }
  const { mine: t, peers } = await measureWithPeers(
    [
      wgrad(conv.forward),
      wgrad(conv.inputGrad),
      wgrad(conv.weightGrad),
      wgrad(() => noGrad(() => conv2d(x, w, b, { padding: 1, activation: 'relu' }))),
      wgrad(() => noGrad(() => conv2d(x, w, b, { padding: 1 }).relu())),
    ],
    ps,
  );
  const withPeers = (row: Row, which = 'forward') => peers.forEach(([peer, o], i) => owner[i] === which && addPeer(row, peer, flops, o));
  withPeers(addRow('conv', 'conv2d forward', 'src/ops/conv.ts', 'GFLOP/s', flops, t[0]));
  withPeers(addRow('conv', 'conv2d backward (input grad)', 'src/ops/conv.ts', 'GFLOP/s', flops, t[1]), 'input_grad');
  withPeers(addRow('conv', 'conv2d backward (weight grad)', 'src/ops/conv.ts', 'GFLOP/s', flops, t[2]), 'weight_grad');
  withPeers(addRow('conv', 'conv2d + bias + ReLU, fused', "activation: 'relu'", 'GFLOP/s', flops, t[3]), 'bias_relu');
  addRow('conv', 'conv2d + bias, then relu()', 'two kernels', 'GFLOP/s', flops, t[4]);
  conv.dispose();
  b.dispose();
}

async function benchMlp(): Promise<void> {
  const shape = { B: 128, D: 784, H: 512, O: 10 };
  const { B, D, H, O } = shape;
  const flops = mlpFlops(shape);
  console.log(`MLP training step (${D}-${H}-${H}-${O}, batch ${B}, SGD momentum; forward, cross-entropy, backward, update)`);
  const mlp = mlpWgrad(shape);
  const { x, trainStep } = mlp;
  const step = wgrad(trainStep);
  // (webgpu-torch 0.3.5 has no gradient for mm: it cannot train this MLP.)
  const makers: PeerMakers = { tf: (tf) => mlpTfjs(tf, shape), py: ['mlp', { B, D, H, O }] };
  const row = await compare('mlp', `MLP step, batch ${B}`, 'nn + optim.SGD', 'steps/s', flops, step, makers);
  if (row.ms) console.log(`    wgrad ≈ ${fmtNum(flops / row.ms / 1e6)} GFLOP/s, ${fmtNum((B * 1000) / row.ms)} images/s`);
  // The same step captured once (src/device/capture.ts) and replayed: one command buffer, one submit.
  const captured = capture(() => tidy(trainStep), { inputs: [x] });
  // Timed round-robin with the eager step again, so that their ratio is measured under one load.
  const [eagerAgain, replayed] = await measureAll([step, { step: () => captured.replay(), settle: sync }]);
  addRow('mlp', 'MLP step, captured replay', 'capture() + replay()', 'steps/s', flops, replayed);
  if (typeof eagerAgain !== 'string' && typeof replayed !== 'string')
    console.log(`    replay/eager = ${(eagerAgain.ms / replayed.ms).toFixed(2)} (steps/s, timed together)`);
  // JavaScript time per dispatch, time inside queue.submit excluded (there Dawn translates the
  // recorded commands to Vulkan: native work that eager and replayed steps pay alike). Two regimes:
  // a training loop (steps back to back, the GPU still busy with the previous one) and the first
  // step after the GPU went idle (after a readback). On lavapipe the second is slower for a reason
  // outside JavaScript: the software GPU's threads have just evicted the CPU caches.
  const queue = device().gpu.queue;
  const submit = queue.submit;
  let inSubmit = 0;
  queue.submit = (buffers) => {
    const t0 = performance.now();
    submit.call(queue, buffers);
    inSubmit += performance.now() - t0;
  };
  // Eager and replayed steps alternate, so that load changes hit both alike.
  const runs = [() => void tidy(() => void trainStep()), () => captured.replay()];
  const perStep = 6;
  const samples = runs.map(() => ({ idle: [] as number[], loop: [] as number[], submit: [] as number[], dispatches: 0 }));
  for (let i = 0; i < 20; i++) {
    for (const [r, run] of runs.entries()) {
      await sync();
      for (let k = 0; k < perStep; k++) {
        const d0 = stats().dispatches;
        inSubmit = 0;
        const t0 = performance.now();
        run();
        device().flush(); // the eager step's submit (a no-op after replay)
        const us = 1000 * (performance.now() - t0 - inSubmit);
        const n = (samples[r].dispatches = stats().dispatches - d0);
        (k === 0 ? samples[r].idle : samples[r].loop).push(us / n);
        samples[r].submit.push((1000 * inSubmit) / n);
      }
    }
  }
  await sync();
  queue.submit = submit;
  const [eager, replay] = samples.map((s) => ({
    loop: median(s.loop),
    idle: median(s.idle),
    submit: median(s.submit),
    dispatches: s.dispatches,
  }));
  const line =
    `JavaScript per dispatch (median, queue.submit excluded), eager / captured replay: ` +
    `in a training loop ${eager.loop.toFixed(1)} / **${replay.loop.toFixed(1)} µs**; first step after the GPU went idle ${eager.idle.toFixed(1)} / ${replay.idle.toFixed(1)} µs ` +
    `(queue.submit ${eager.submit.toFixed(1)} / ${replay.submit.toFixed(1)} µs per dispatch; ${eager.dispatches} / ${replay.dispatches} dispatches per step)`;
  findings.push(`MLP step: ${line}.`);
  console.log(`    ${line.replace(/\*\*/g, '')}`);
  captured.dispose();
  mlp.dispose();
}

async function benchMoco(): Promise<void> {
  let mods;
  try {
    mods = await mocoModules();
  } catch (e) {
    skippedGroups.push(`moco: the MoCo modules do not load (${firstLine(e)})`);
    console.log(`moco: skipped (${skippedGroups.at(-1)})`);
    return;
  }
  const moco = mocoWgrad(mods, opts.quick ? { batch: 32 } : {});
  const { cfg, B, aug } = moco;
  console.log(
    `MoCo training step (default config: ${cfg.encoder} width ${cfg.width}, batch ${B}, K ${cfg.K}, dim ${cfg.dim}, ${cfg.mlp ? 'MLP head' : 'linear head'}, ${cfg.shuffleBn} BN; augment both views, forward, key encoder, InfoNCE, backward, SGD)`,
  );
  const mine = wgrad(moco.step);
  // A tfjs step takes tens of seconds on lavapipe: allow it rather than skip it.
  skipMs = 120_000;
  const peerCfg = moco.peer;
  // PyTorch augments both views too (crop + flip + brightness/contrast, batched; bench/peers/torch_cpu.py).
  const py: [string, Record<string, unknown>] = ['moco', { ...peerCfg, mlp: cfg.mlp, augment: true, jitter_p: aug.jitter.p }];
  const row = await compare('moco', `MoCo step, batch ${B}`, `${cfg.encoder} w${cfg.width}, K ${cfg.K}`, 'steps/s', 0, mine, {
    tf: (tf) => mocoStepTfjs(tf, peerCfg),
    py,
  });
  skipMs = SKIP_MS;
  if (row.ms) console.log(`    ≈ ${fmtNum((B * 1000) / row.ms)} images/s`);
  moco.dispose();
}

/** nn.resnet50 (torchvision layout, batch-statistics BN) forward + backward on a small batch. */
async function benchResnet50(): Promise<void> {
  const [B, side] = opts.quick ? [2, 32] : [4, 64];
  console.log(
    `ResNet-50 forward + backward (torchvision layout, training-mode BN, batch ${B}, 3×${side}×${side}; loss = sum of the 2048 features)`,
  );
  const net = nn.resnet50();
  net.train();
  const x = keep(rand([B, 3, side, side]));
  const mine = wgrad(() => {
    net.forward(x).sum().backward();
    net.zeroGrad();
  });
  skipMs = 120_000;
  const row = await compare('resnet50', `ResNet-50 fwd+bwd, batch ${B}`, `3×${side}×${side}`, 'steps/s', 0, mine, {
    tf: (tf) => resnet50Tfjs(tf, B, side),
  });
  skipMs = SKIP_MS;
  if (row.ms) console.log(`    ≈ ${fmtNum((B * 1000) / row.ms)} images/s`);
  x.dispose();
  for (const p of net.parameters()) p.dispose();
}

// ---- output -----------------------------------------------------------------------------------

function markdown(meta: Record<string, string>): string {
  const L: string[] = [];
  L.push(`Command: \`${meta.command}\`  `);
  L.push(`Date: ${meta.date}  `);
  L.push(`Adapter: ${meta.adapter}  `);
  L.push(`Machine: ${meta.machine}`);
  L.push('');
  const withPeers = rows.some((r) => Object.keys(r.peers).length > 0);
  const head = ['Benchmark', 'Kernel / variant', 'Time', 'Throughput', 'cpu/wall', 'per busy core'];
  // PyTorch's ratio is of times, as issue 19 asks for it (> 1: PyTorch is faster); the others' of throughputs.
  if (withPeers) for (const p of PEER_NAMES) head.push(p, p === TORCH ? `wgrad time / ${p} time` : `wgrad/${p}`);
  L.push(`| ${head.join(' | ')} |`);
  L.push(`|${head.map((_, i) => (i >= 2 ? '---:' : '---')).join('|')}|`);
  for (const r of rows) {
    const cells = [
      r.name,
      r.detail,
      r.ms === null ? '-' : fmtMs(r.ms),
      r.value === null ? (r.note ?? '-') : `${fmtNum(r.value)} ${r.unit}`,
      r.cpu === null ? '-' : r.cpu.toFixed(2),
      r.value === null || !r.cpu ? '-' : fmtNum(r.value / r.cpu),
    ];
    if (withPeers) {
      for (const p of PEER_NAMES) {
        const pr = r.peers[p];
        if (pr === undefined) cells.push('', '');
        else if (typeof pr === 'string') cells.push(pr, '');
        else if (p === TORCH) cells.push(fmtMs(pr.ms), r.ms ? `**${(r.ms / pr.ms).toFixed(2)}**` : '-');
        else cells.push(`${fmtNum(pr.value)} ${r.unit}`, r.value ? `**${(r.value / pr.value).toFixed(2)}**` : '-');
      }
    }
    L.push(`| ${cells.join(' | ')} |`);
  }
  if (findings.length) L.push('', ...findings.map((f) => `- ${f}`));
  for (const s of skippedGroups) L.push('', `Skipped: ${s}`);
  for (const [k, v] of Object.entries(peerErrors)) L.push('', `Peer ${k} did not run: ${v}`);
  return L.join('\n');
}

/**
 * Replaces this run's section of the results file (one section per set of groups, so a partial
 * `--only` run does not wipe the full table), appending it if the file has none yet.
 */
function writeMarkdownSection(file: string, body: string): void {
  const id = (opts.only.length === GROUPS.length ? 'all' : opts.only.join(',')) + (opts.quick ? ' quick' : '');
  const begin = `<!-- bench:begin ${id} (written by bench/run.ts; edit outside these markers) -->`;
  const end = `<!-- bench:end ${id} -->`;
  const section = `${begin}\n${body}\n${end}`;
  let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# wgrad benchmark results\n\n';
  const i = text.indexOf(`<!-- bench:begin ${id} (`);
  const j = text.indexOf(end);
  text = i >= 0 && j > i ? text.slice(0, i) + section + text.slice(j + end.length) : `${text.trimEnd()}\n\n${section}\n`;
  fs.writeFileSync(file, text);
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Horizontal bars, one scale per unit; peers as thin bars under wgrad's. */
function svgChart(title: string): string {
  const shown = rows.filter((r) => r.value !== null);
  const units = [...new Set(shown.map((r) => r.unit))];
  const [W, labelW, barW, rowH] = [980, 360, 470, 24];
  const colors: Record<string, string> = {
    wgrad: '#3b6fd8',
    'tfjs-webgpu': '#e08a1e',
    'webgpu-torch': '#b04fb0',
    'tfjs-wasm': '#5aa469',
    [TORCH]: '#c0392b',
  };
  const parts: string[] = [];
  let y = 48;
  for (const u of units) {
    const rs = shown.filter((r) => r.unit === u);
    const max = Math.max(
      ...rs.flatMap((r) => [r.value!, ...Object.values(r.peers).flatMap((p) => (typeof p === 'string' ? [] : [p.value]))]),
    );
    parts.push(`<text x="10" y="${y + 14}" font-weight="bold">${esc(u)}</text>`);
    y += 22;
    for (const r of rs) {
      const ps = PEER_NAMES.map((n) => [n, r.peers[n]] as const).filter(([, p]) => p && typeof p !== 'string') as [string, Result][];
      const h = rowH + ps.length * 8;
      parts.push(`<text x="${labelW - 8}" y="${y + 14}" text-anchor="end">${esc(r.name)}</text>`);
      parts.push(
        `<rect x="${labelW}" y="${y + 3}" width="${Math.max(1, (barW * r.value!) / max).toFixed(1)}" height="14" fill="${colors.wgrad}"/>`,
      );
      parts.push(`<text x="${(labelW + (barW * r.value!) / max + 6).toFixed(1)}" y="${y + 14}">${fmtNum(r.value!)}</text>`);
      ps.forEach(([n, p], i) => {
        parts.push(
          `<rect x="${labelW}" y="${y + 19 + i * 8}" width="${Math.max(1, (barW * p.value) / max).toFixed(1)}" height="6" fill="${colors[n]}"/>`,
        );
      });
      y += h;
    }
    y += 10;
  }
  const legend = ['wgrad', ...PEER_NAMES.filter((n) => rows.some((r) => typeof r.peers[n] === 'object'))]
    .map(
      (n, i) =>
        `<rect x="${labelW + i * 150}" y="24" width="12" height="12" fill="${colors[n]}"/><text x="${labelW + i * 150 + 18}" y="34">${n}</text>`,
    )
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y + 10}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="18" font-size="14" font-weight="bold">${esc(title)}</text>${legend}
${parts.join('\n')}
</svg>
`;
}

// ---- main -------------------------------------------------------------------------------------

await init();
const info = deviceInfo();
const meta = {
  command: `npx tsx bench/run.ts ${process.argv.slice(2).join(' ')}`.trim(),
  date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  adapter: `${info.description} (${info.backend}; family ${info.family})`,
  machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ')} at start, Node ${process.version}`,
};
console.log(`wgrad bench on ${meta.adapter}\n${meta.machine}`);
if (opts.peers) {
  const wanted = (...names: string[]) => !opts.peerList.length || names.some((n) => opts.peerList.includes(n));
  if (wanted('tfjs-webgpu', 'tfjs-wasm')) await setupPeers();
  if (wanted('webgpu-torch')) await setupTorchPeer();
  if (wanted(TORCH)) await setupTorchCpuPeer();
}
for (const [k, v] of Object.entries(peerErrors)) console.log(`  peer ${k} unavailable: ${v}`);
const benches: Record<Group, () => Promise<void>> = {
  matmul: benchMatmul,
  elementwise: benchElementwise,
  reduce: benchReduce,
  conv: benchConv,
  mlp: benchMlp,
  moco: benchMoco,
  resnet50: benchResnet50,
};
for (const g of GROUPS) {
  if (!opts.only.includes(g)) continue;
  try {
    await benches[g]();
  } catch (e) {
    skippedGroups.push(`${g}: failed: ${(e as Error).message.split('\n')[0]}`);
    console.log(`${g}: FAILED: ${(e as Error).stack}`);
  }
}
meta.machine += `; ${os.loadavg()[0].toFixed(1)} at the end`;
if (opts.json)
  fs.writeFileSync(opts.json, JSON.stringify({ ...meta, results: rows, findings, skipped: skippedGroups, peerErrors }, null, 1) + '\n');
if (opts.write) {
  writeMarkdownSection(opts.md, markdown(meta));
  // The chart shows full runs; a partial run draws one only where --svg names a file.
  const svg = opts.svg || (opts.only.length === GROUPS.length && !opts.quick ? 'bench/results.svg' : '');
  if (svg) fs.writeFileSync(svg, svgChart(`wgrad on ${info.description.split(':')[0]} — ${meta.date.slice(0, 10)}`));
  console.log(`wrote ${[opts.md, svg, opts.json].filter(Boolean).join(', ')}`);
}
for (const p of peers) p.py?.close();
shutdown();
void navigatorGpu;
