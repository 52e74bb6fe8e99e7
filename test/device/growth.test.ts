// Memory without ceremony (src/device/collect.ts): a PyTorch-style loop with no tidy() and no
// dispose() keeps live GPU bytes bounded over 1,000 steps, because wgrad asks for a collection
// when they grow; a loop that keeps its tensors reachable (losses in an array) gets one warning
// naming tidy(); the watch's own rules (doubling step, no collector → warn) on a fake counter.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  init,
  shutdown,
  nn,
  optim,
  randn,
  tensor,
  crossEntropy,
  stats,
  manualSeed,
  tidy,
  noGrad,
  normalize,
  type Tensor,
} from '../../src/index.ts';
import { device } from '../../src/runtime.ts';
import { GrowthWatch } from '../../src/device/collect.ts';

const MIB = 1 << 20;

class Mlp extends nn.Module {
  layers = [new nn.Linear(256, 512), new nn.Linear(512, 10)];
  forward(x: Tensor): Tensor {
    return this.layers[1].forward(this.layers[0].forward(x).relu());
  }
}

/** Runs `steps` un-tidied SGD steps, awaiting each loss; returns live bytes per step and warnings. */
async function pytorchStyleLoop(steps: number, keepLosses: boolean, batch = 64): Promise<{ live: number[]; warnings: string[] }> {
  shutdown(); // a fresh device, so a warning printed by an earlier test file does not hide this one's
  await init();
  manualSeed(0);
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (m: string) => warnings.push(m);
  const model = new Mlp();
  const opt = new optim.SGD(model.parameters(), { lr: 0.01 });
  const x = randn(batch, 256);
  const y = tensor(
    Array.from({ length: batch }, (_, i) => i % 10),
    undefined,
    { dtype: 'int32' },
  );
  const kept: Tensor[] = [];
  const live: number[] = [];
  try {
    for (let s = 0; s < steps; s++) {
      const loss = crossEntropy(model.forward(x), y);
      opt.zeroGrad();
      loss.backward();
      opt.step();
      await loss.item();
      if (keepLosses) kept.push(loss);
      live.push(stats().bytesLive);
    }
  } finally {
    console.warn = warn;
  }
  return { live, warnings };
}

test('1,000 PyTorch-style steps without tidy(): live GPU bytes stay bounded, no warning', async () => {
  const { live, warnings } = await pytorchStyleLoop(1000, false);
  // The typical step's growth: the median of step-to-step differences (a collection, a few in
  // 1,000 steps, shows as one negative difference and does not move the median).
  const diffs = live
    .slice(1)
    .map((v, i) => v - live[i])
    .sort((a, b) => a - b);
  const perStep = diffs[diffs.length >> 1];
  const peak = Math.max(...live);
  console.log(
    `  un-tidied loop: ~${(perStep / 1024).toFixed(0)} KiB/step would be ${((perStep * 1000) / MIB).toFixed(0)} MiB after 1,000 steps; ` +
      `peak live ${(peak / MIB).toFixed(1)} MiB, end ${(live.at(-1)! / MIB).toFixed(1)} MiB, ${stats().collections} collections`,
  );
  assert.ok(perStep * 1000 > 64 * MIB, `the loop should leave garbage (${perStep} B/step), or this test proves nothing`);
  assert.ok(
    peak < 48 * MIB,
    `peak live GPU memory ${(peak / MIB).toFixed(1)} MiB, expected < 48 MiB (a 32 MiB step + the model + what the last step holds)`,
  );
  assert.ok(stats().collections >= 1, 'wgrad asked for a collection');
  assert.equal(warnings, [], 'no warning for a loop whose garbage is collectable');
});

test('a loop that keeps its losses (and so their graphs) reachable is warned once, naming tidy()', async () => {
  const { live, warnings } = await pytorchStyleLoop(150, true, 256);
  assert.ok(live.at(-1)! > 128 * MIB, `the kept graphs should hold > 128 MiB, got ${(live.at(-1)! / MIB).toFixed(1)}`);
  assert.is(warnings.length, 1, `one warning, got ${warnings.length}`);
  for (const f of ['live GPU memory keeps growing', 'tidy(', 'await loss.item()', "README's 'Memory' section"]) {
    assert.ok(warnings[0].includes(f), `warning should contain ${JSON.stringify(f)}: ${warnings[0]}`);
  }
});

test('the watch: collects each time live bytes grow by max(step, low), follows releases down; no collector → one warning', () => {
  let live = 0;
  let collected = 0;
  const w = new GrowthWatch(
    () => live,
    () => collected++,
    10,
    () => assert.unreachable('no warning expected'),
  );
  live = 9;
  w.onCreate();
  assert.is(collected, 0, 'below the step');
  live = 10;
  w.onCreate();
  assert.is(collected, 1);
  live = 4; // the finalizers gave memory back
  w.onRelease();
  live = 13;
  w.onCreate();
  assert.is(collected, 1, 'the next limit is low (4) + max(step 10, 4) = 14');
  live = 14;
  w.onCreate();
  assert.is(collected, 2);
  const warnings: string[] = [];
  const noGc = new GrowthWatch(
    () => live,
    null,
    10,
    (m) => warnings.push(m),
  );
  live = 30;
  noGc.onCreate();
  live = 100;
  noGc.onCreate();
  assert.is(warnings.length, 1);
  assert.ok(warnings[0].includes('cannot ask this JavaScript engine for a garbage collection'));
  const leaks: string[] = [];
  live = 0;
  const leak = new GrowthWatch(
    () => live,
    () => collected++,
    10,
    (m) => leaks.push(m),
  );
  for (live = 0; live < 200; live++) leak.onCreate(); // nothing is ever released
  assert.is(leaks.length, 1, 'warned once when three collections in a row left more live than before');
});

test.after(() => shutdown());
test('a program that calls tidy() itself is not warned for what it keeps (features, banks: memory meant to stay)', async () => {
  // The leak pattern of the watch test above, which warns, with the program managing lifetimes.
  let live = 0;
  let collected = 0;
  const w = new GrowthWatch(
    () => live,
    () => collected++,
    10,
    () => assert.unreachable('no warning for a program that uses tidy()'),
  );
  w.managed = () => true;
  for (live = 0; live < 200; live++) w.onCreate();
  assert.ok(collected >= 3, `collections are still asked for (${collected})`);
  // The device's watch follows the public tidy(); the library's own scopes do not count.
  shutdown();
  await init();
  assert.is(device().growth.managed(), false, 'no tidy() since this device started');
  noGrad(() => normalize(randn(4, 3), 1).dispose()); // library code that uses scoped() inside
  assert.is(device().growth.managed(), false);
  tidy(() => randn(2).add(1));
  assert.is(device().growth.managed(), true);
});

test.run();
