// Times conv2d forward, input gradient and weight gradient on the current adapter for the MoCo
// ConvNet's heaviest layer shape (default x [256, 32, 28, 28], w [32, 32, 3, 3], padding 1):
//   npx tsx bench/conv.ts [N C H W Cout k]
import { init, randn, sync, noGrad, deviceInfo, shutdown, type Tensor } from '../src/index.ts';
import { conv2d } from '../src/ops/conv.ts';

const [N, C, H, W, Cout, k] = process.argv
  .slice(2)
  .map(Number)
  .concat([256, 32, 28, 28, 32, 3].slice(process.argv.length - 2));
await init();
console.log(`${deviceInfo().description}: x [${N}, ${C}, ${H}, ${W}], w [${Cout}, ${C}, ${k}, ${k}], padding ${k >> 1}`);
const x = randn([N, C, H, W]).keep();
const w = randn([Cout, C, k, k]).mul(0.1).keep();
const flops = 2 * N * Cout * H * W * C * k * k;

const reps = Number(process.env.REPS ?? 5);

async function time(name: string, fn: () => Tensor | null): Promise<void> {
  noGrad(fn)?.dispose(); // warm-up: compiles the pipelines
  await sync();
  // Min over single runs: other processes on the machine only ever make a run slower.
  let best = Infinity;
  let bestCpu = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    noGrad(fn)?.dispose();
    await sync();
    const c = process.cpuUsage(c0);
    best = Math.min(best, performance.now() - t0);
    bestCpu = Math.min(bestCpu, (c.user + c.system) / 1000);
  }
  const gf = (ms: number) => (flops / ms / 1e6).toFixed(2);
  console.log(
    `${name.padEnd(16)} ${best.toFixed(1).padStart(8)} ms  ${gf(best).padStart(6)} GFLOP/s   (CPU time ${bestCpu.toFixed(0)} ms: ${gf(bestCpu)} GFLOP/s per CPU-second)`,
  );
}

await time('forward', () => conv2d(x, w, null, { padding: k >> 1 }));
const gy = randn([N, Cout, H, W]).keep();
/** Runs one gradient of the recorded conv: the other operand does not require grad. */
function grad(which: 0 | 1): () => Tensor | null {
  const xs = x.detach().requiresGrad_(which === 0);
  const ws = w.detach().requiresGrad_(which === 1);
  const y = conv2d(xs, ws, null, { padding: k >> 1 }).keep();
  return () => y.node!.backward!(gy)[which] ?? null;
}
await time('backward input', grad(0));
await time('backward weight', grad(1));
shutdown();
