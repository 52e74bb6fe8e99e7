// top-k on the GPU against the kNN monitor's host path and tfjs-backend-webgpu's topk, on the
// same Dawn device: a [rows, n] similarity matrix (the kNN monitor's chunk of test rows against
// the bank), k neighbours per row, results read back to the host. Rounds are interleaved (one
// timing of each candidate per round, median over rounds) so that machine load hits all alike.
//
//   npx tsx bench/topk.ts [--rows 256] [--n 8000] [--k 200] [--rounds 5]
//
// Candidates:
//   wgrad topk     topk(S, k, 1) on the GPU (bitonic network), values + indices read back
//   wgrad sort     sort(S, 1, true), everything read back (for scale)
//   host select    S read back, then per row a quickselect for the k-th largest and one pass
//                  (what knnAccuracy does in src/moco/knn.ts)
//   tfjs topk      tf.topk(S, k) on tfjs-backend-webgpu, values + indices read back

import { init, deviceInfo, randn, topk, sort, noGrad, type Tensor } from '../src/index.ts';
import { device } from '../src/runtime.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const ROWS = arg('rows', 256);
const N = arg('n', 8000);
const K = arg('k', 200);
const ROUNDS = arg('rounds', 5);

await init();
const info = deviceInfo();
console.log(`adapter: ${info.description || info.backend} (${info.backend}); S = [${ROWS}, ${N}], k = ${K}, ${ROUNDS} rounds`);

/** The k-th largest of row (0-based), by quickselect on a scratch copy (as knn.ts). */
function kthLargest(row: Float32Array, k: number, scratch: Float32Array): number {
  scratch.set(row);
  let lo = 0;
  let hi = row.length - 1;
  while (lo < hi) {
    const pivot = scratch[(lo + hi) >>> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (scratch[i] > pivot) i++;
      while (scratch[j] < pivot) j--;
      if (i <= j) {
        [scratch[i], scratch[j]] = [scratch[j], scratch[i]];
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return scratch[k];
}

const S: Tensor = randn([ROWS, N]).keep();
const host = await S.toArray();

/** The top-k index sets of every row, from the host (for checking the candidates agree). */
function hostTopk(values: Float32Array): number[][] {
  const scratch = new Float32Array(N);
  const out: number[][] = [];
  for (let r = 0; r < ROWS; r++) {
    const row = values.subarray(r * N, (r + 1) * N);
    const threshold = kthLargest(row, K - 1, scratch);
    const picked: number[] = [];
    for (let j = 0; j < N && picked.length < K; j++) if (row[j] > threshold) picked.push(j);
    for (let j = 0; j < N && picked.length < K; j++) if (row[j] === threshold) picked.push(j);
    out.push(picked.sort((a, b) => a - b));
  }
  return out;
}
const want = hostTopk(host);

type TF = typeof import('@tensorflow/tfjs-core');
let tf: TF | null = null;
let tfSettle = async () => {};
try {
  tf = await import('@tensorflow/tfjs-core');
  const dawn = await import('webgpu');
  const g = globalThis as { navigator?: { gpu?: unknown } };
  const gpu = dawn.create([]);
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  else if (!g.navigator.gpu) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  tf.registerBackend('webgpu', () => new WebGPUBackend(device().gpu), 1);
  if (!(await tf.setBackend('webgpu'))) throw new Error('setBackend(webgpu) returned false');
  tfSettle = async () => void (await device().wait(device().gpu.queue.onSubmittedWorkDone()));
} catch (e) {
  console.log(`tfjs-webgpu not available: ${(e as Error).message.split('\n')[0]}`);
  tf = null;
}
const tfS = tf ? tf.tensor2d(host, [ROWS, N]) : null;

const candidates: Record<string, () => Promise<number[][] | null>> = {
  'wgrad topk': async () => {
    const { values, indices } = noGrad(() => topk(S, K, 1));
    const [, idx] = await Promise.all([values.toArray(), indices.toArray<Int32Array>()]);
    values.dispose();
    indices.dispose();
    return Array.from({ length: ROWS }, (_, r) => Array.from(idx.subarray(r * K, (r + 1) * K)).sort((a, b) => a - b));
  },
  'wgrad sort': async () => {
    const { values, indices } = noGrad(() => sort(S, 1, true));
    await Promise.all([values.toArray(), indices.toArray()]);
    values.dispose();
    indices.dispose();
    return null;
  },
  'host select': async () => hostTopk(await S.toArray()),
  ...(tf && tfS
    ? {
        'tfjs topk': async () => {
          const { values, indices } = tf!.topk(tfS, K);
          const [, idx] = await Promise.all([values.data(), indices.data()]);
          values.dispose();
          indices.dispose();
          await tfSettle();
          return Array.from({ length: ROWS }, (_, r) => Array.from(idx.subarray(r * K, (r + 1) * K)).sort((a, b) => a - b));
        },
      }
    : {}),
};

// Warm-up (compiles), and every candidate's neighbours checked against the host's.
for (const [name, run] of Object.entries(candidates)) {
  const got = await run();
  if (got && JSON.stringify(got) !== JSON.stringify(want)) console.log(`warning: ${name} picks other neighbours than the host (ties?)`);
}
const times: Record<string, number[]> = Object.fromEntries(Object.keys(candidates).map((n) => [n, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of Object.entries(candidates)) {
    const t0 = performance.now();
    await run();
    times[name].push(performance.now() - t0);
  }
}
const median = (x: number[]) => [...x].sort((a, b) => a - b)[x.length >> 1];
const base = median(times['wgrad topk']);
console.log('\n| candidate | median ms | time / wgrad topk |\n|---|---|---|');
for (const [name, t] of Object.entries(times)) console.log(`| ${name} | ${median(t).toFixed(1)} | ${(median(t) / base).toFixed(2)}× |`);
process.exit(0);
