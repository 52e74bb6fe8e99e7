// How wgrad waits for the GPU, measured: the same matmul loop with Dawn's busy polling ('spin')
// and with src/device/wait.ts ('sleep'), interleaved in one process so that machine load hits
// both alike, plus the round trip of a tiny op and its readback (where sleeping could cost
// latency). bench/RESULTS.md, "Waiting for the GPU", reports its output.
//   npx tsx bench/wait.ts [n]      (n: matmul size, default 1024)
import { init, randn, sync, noGrad, matmul, shutdown, deviceInfo } from '../src/index.ts';
import { device } from '../src/runtime.ts';

const info = await init();
const n = Number(process.argv[2] ?? 1024);
console.log(`${deviceInfo().description}: default wait mode '${info.wait}'`);
const a = randn([n, n]).keep();
const b = randn([n, n]).keep();
const step = () => noGrad(() => matmul(a, b)).dispose();
step();
await sync();
const modes = ['spin', 'sleep'] as const;
/** Switches the running device's mode (info is read at each wait). */
const use = (mode: 'spin' | 'sleep') => ((device().info as { wait: string }).wait = mode);
const gflops: Record<string, number[]> = { spin: [], sleep: [] };
for (let round = 0; round < 10; round++) {
  for (const mode of modes) {
    use(mode);
    const t0 = performance.now();
    for (let j = 0; j < 3; j++) step();
    await sync();
    gflops[mode].push((2 * n ** 3 * 3) / (performance.now() - t0) / 1e6);
  }
}
const median = (x: number[]) => [...x].sort((p, q) => p - q)[x.length >> 1];
for (const mode of modes)
  console.log(
    `${mode.padEnd(5)} matmul ${n}²: median ${median(gflops[mode]).toFixed(1)} GFLOP/s (best ${Math.max(...gflops[mode]).toFixed(1)})`,
  );
console.log(`sleep / spin = ${(median(gflops.sleep) / median(gflops.spin)).toFixed(2)}`);
const x = randn([16]).keep();
await x.sum().item();
for (const mode of modes) {
  use(mode);
  const t0 = performance.now();
  for (let i = 0; i < 200; i++) await x.add(1).sum().item();
  console.log(`${mode.padEnd(5)} tiny op + item() round trip: ${(((performance.now() - t0) / 200) * 1000).toFixed(0)} µs`);
}
use(info.wait);
await shutdown();
