// Long-run stability: many MoCo training steps (the tiny configuration of
// test/reliability/tiny.ts: SmallConvNet, SplitBatchNorm, shuffled keys, queue, SGD momentum) with
// GPU memory (stats().bytesLive / bytesPooled / buffersCreated), JS heap (after a forced GC) and
// step time sampled every --every steps. A leak shows up as a column that keeps growing.
//
//   npx tsx bench/longrun.ts                      10,000 steps
//   npx tsx bench/longrun.ts --steps 2000 --every 100 --json runs/longrun.json
//
// The last line is a JSON summary (first/last samples after warm-up and their differences).

import * as fs from 'node:fs';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { init, stats, shutdown, deviceInfo } from '../src/index.ts';
import { tinyMoco } from '../test/reliability/tiny.ts';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** A forced full GC, also without node --expose-gc. */
function gcFunction(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

interface Sample {
  step: number;
  loss: number;
  msPerStep: number;
  bytesLive: number;
  bytesPooled: number;
  buffersCreated: number;
  heapUsedMB: number;
  rssMB: number;
}

async function main(): Promise<void> {
  const steps = option('steps', 10000);
  const every = option('every', 100);
  const warmup = option('warmup', 50);
  const jsonIdx = process.argv.indexOf('--json');
  const gc = gcFunction();
  await init();
  console.log(`longrun: ${steps} steps on ${deviceInfo().backend} (${deviceInfo().description}), sampling every ${every}`);
  const run = tinyMoco({ seed: 0 });
  const samples: Sample[] = [];
  let t = performance.now();
  let sinceSample = 0;
  const t0 = performance.now();
  for (let step = 1; step <= steps; step++) {
    const l = run.step();
    sinceSample++;
    if (step % every === 0 || step === warmup) {
      const loss = await l.item();
      l.dispose();
      const ms = (performance.now() - t) / sinceSample;
      gc();
      const s = stats();
      const m = process.memoryUsage();
      const sample = {
        step,
        loss,
        msPerStep: ms,
        bytesLive: s.bytesLive,
        bytesPooled: s.bytesPooled,
        buffersCreated: s.buffersCreated,
        heapUsedMB: m.heapUsed / 2 ** 20,
        rssMB: m.rss / 2 ** 20,
      };
      samples.push(sample);
      console.log(
        `step ${String(step).padStart(6)}  loss ${loss.toFixed(4)}  ${ms.toFixed(1)} ms/step  GPU live ${s.bytesLive} B, pooled ${s.bytesPooled} B, buffers created ${s.buffersCreated}  heap ${sample.heapUsedMB.toFixed(2)} MB  rss ${sample.rssMB.toFixed(1)} MB`,
      );
      t = performance.now();
      sinceSample = 0;
    } else if (step % 8 === 0) {
      await l.item(); // read back now and then, as the CLI does, so the GPU does not fall far behind
      l.dispose();
    } else {
      l.dispose();
    }
  }
  const after = samples.filter((s) => s.step >= warmup);
  const first = after[0];
  const last = after[after.length - 1];
  const summary = {
    steps,
    seconds: (performance.now() - t0) / 1000,
    first,
    last,
    growth: {
      bytesLive: last.bytesLive - first.bytesLive,
      bytesPooled: last.bytesPooled - first.bytesPooled,
      buffersCreated: last.buffersCreated - first.buffersCreated,
      heapUsedMB: last.heapUsedMB - first.heapUsedMB,
      rssMB: last.rssMB - first.rssMB,
    },
    maxHeapUsedMB: Math.max(...after.map((s) => s.heapUsedMB)),
  };
  if (jsonIdx >= 0) fs.writeFileSync(process.argv[jsonIdx + 1], JSON.stringify({ summary, samples }, null, 2));
  console.log(JSON.stringify(summary));
  run.dispose();
  shutdown();
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
