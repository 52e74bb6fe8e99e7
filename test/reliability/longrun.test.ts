// Long runs and determinism, on the tiny MoCo step of tiny.ts (the CLI's path: augmentation,
// shuffled SplitBatchNorm keys, queue, backward, SGD with momentum):
// - 200 steps: after warm-up, live GPU bytes, pooled bytes and the number of GPU buffers ever
//   created stay exactly constant, and the peak JS heap after a forced GC does not grow;
// - the same seed on the same adapter gives bit-identical losses for 100 steps (the first 100
//   of the long run against a second run in the same process), and a different seed does not.
// bench/longrun.ts is the 10,000-step version (figures in docs/RELIABILITY.md).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { stats } from '../../src/index.ts';
import { setup } from '../helpers.ts';
import { device } from '../../src/runtime.ts';
import { tinyMoco } from './tiny.ts';

test.before(setup);

/** A full GC without node --expose-gc (the flag can be turned on at run time). */
function gcFunction(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

/** Bytes of JS objects (old and large-object spaces): not code space, which grows as V8 optimizes more. */
const objectHeap = () =>
  v8
    .getHeapSpaceStatistics()
    .filter((s) => s.space_name === 'old_space' || s.space_name === 'large_object_space')
    .reduce((sum, s) => sum + s.space_used_size, 0);

const STEPS = 200;
const WARMUP = 40;
const SAME = 100;
let firstLosses: Float32Array;

test(`${STEPS} training steps: GPU memory exactly flat after warm-up, JS heap bounded`, async () => {
  const gc = gcFunction();
  // The bind-group cache fills at ~40 entries per step and starts over past maxBindGroups: a
  // smaller bound makes its sawtooth repeat inside each half, so the halves' peaks compare leaks.
  const dev = device();
  const savedMax = dev.maxBindGroups;
  dev.maxBindGroups = 1024;
  const run = tinyMoco({ seed: 0 });
  const losses = new Float32Array(STEPS);
  const samples: { step: number; live: number; pooled: number; created: number }[] = [];
  const heap: { step: number; bytes: number }[] = [];
  for (let step = 1; step <= STEPS; step++) {
    const l = run.step();
    losses[step - 1] = await l.item(); // Math.fround of the f32 value: compared bit for bit below
    l.dispose();
    if (step > WARMUP && step % 5 === 0) {
      gc();
      heap.push({ step, bytes: objectHeap() });
      const s = stats();
      if (step % 20 === 0) samples.push({ step, live: s.bytesLive, pooled: s.bytesPooled, created: s.buffersCreated });
    }
  }
  firstLosses = losses.slice(0, SAME);
  const [first] = samples;
  for (const s of samples) {
    assert.is(s.live, first.live, `bytesLive at step ${s.step} vs ${first.step}`);
    assert.is(s.pooled, first.pooled, `bytesPooled at step ${s.step} vs ${first.step}`);
    assert.is(s.created, first.created, `no GPU buffer created after warm-up (step ${s.step})`);
  }
  // The heap after GC is a sawtooth (the bind-group cache fills up to 1024 entries in ~25 steps,
  // then is cleared), so compare the peaks of the two halves after warm-up: a leak of 6 KB per
  // step (one GradNode with a few tensors) raised the second by 0.64 MB, none by 0.17-0.20 MB.
  const mid = (WARMUP + STEPS) / 2;
  const peak = (from: number, to: number) => Math.max(...heap.filter((h) => h.step > from && h.step <= to).map((h) => h.bytes));
  const growth = peak(mid, STEPS) - peak(WARMUP, mid);
  const mb = (b: number) => (b / 2 ** 20).toFixed(2);
  assert.ok(
    growth < 0.4 * 2 ** 20,
    `JS heap peak grew ${mb(growth)} MB from steps ${WARMUP}-${mid} to ${mid}-${STEPS}: ${heap.map((h) => mb(h.bytes)).join(' ')}`,
  );
  assert.ok(losses.every(Number.isFinite));
  run.dispose();
  dev.maxBindGroups = savedMax;
});

test(`same seed, same adapter: bit-identical losses for ${SAME} steps; another seed differs`, async () => {
  const run = tinyMoco({ seed: 0 });
  const again = new Float32Array(SAME);
  for (let i = 0; i < SAME; i++) {
    const l = run.step();
    again[i] = await l.item();
    l.dispose();
  }
  run.dispose();
  const firstDiff = again.findIndex((v, i) => !Object.is(v, firstLosses[i]));
  assert.is(firstDiff, -1, `step ${firstDiff + 1}: ${again[firstDiff]} vs ${firstLosses[firstDiff]}`);
  assert.ok(new Set(again).size > SAME / 2, 'the losses change from step to step');

  const other = tinyMoco({ seed: 1 });
  const l = other.step();
  const v = await l.item();
  l.dispose();
  other.dispose();
  assert.is.not(v, firstLosses[0], 'seed 1 gives another first loss');
});

test.run();
