// gpuWait (src/device/wait.ts): in 'sleep' mode, while a wait is pending, native callbacks given
// to setImmediate after the first 2 ms are re-armed on a timer (Dawn's busy poll sleeps), JS
// callbacks are not touched, overlapping waits share one swap, and the original setImmediate is
// back once the last wait ends, also when one rejects. 'spin' changes nothing. And end to end:
// the default mode of this adapter gives the same numbers as the other, and with the real Dawn a
// long wait re-arms far fewer immediates in 'sleep' than in 'spin' (≈ 200 vs ≈ 10,000 here).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { skip } from '../skip.ts';
import { deviceInfo, init, randn, tidy, keep, sync } from '../../src/index.ts';
import { gpuWait, pendingWaits } from '../../src/device/wait.ts';
import { device } from '../../src/runtime.ts';
import { setup } from '../helpers.ts';

test.before(setup);

const sleepMs = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** A promise settled by hand, standing in for a Dawn promise. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}
// A native function, as Dawn's poll callback is: Math.max prints as "function max() { [native code] }".
const nativeFn = Math.max;
const isTimer = (h: unknown) => typeof (h as { refresh?: unknown }).refresh === 'function';

test("sleep: setImmediate is swapped while a wait is pending, native callbacks go to a 1 ms timer after 2 ms, JS ones don't", async () => {
  const original = globalThis.setImmediate;
  const d = deferred<number>();
  const waited = gpuWait(d.promise, 'sleep');
  assert.is.not(globalThis.setImmediate, original, 'swapped during the wait');
  assert.is(pendingWaits(), 1);
  const early = globalThis.setImmediate(nativeFn);
  assert.not.ok(isTimer(early), 'within the first 2 ms: still an immediate');
  await sleepMs(5);
  const late = globalThis.setImmediate(nativeFn);
  assert.ok(isTimer(late), 'after 2 ms a native callback is put on a timer');
  let ran = false;
  const js = globalThis.setImmediate(() => void (ran = true));
  assert.not.ok(isTimer(js), 'a JS callback stays an immediate');
  d.resolve(42);
  assert.is(await waited, 42);
  assert.is(globalThis.setImmediate, original, 'restored after the wait');
  assert.is(pendingWaits(), 0);
  await sleepMs(2);
  assert.ok(ran, 'the JS callback ran');
});

test('sleep: overlapping waits share one swap; a rejection propagates and still restores', async () => {
  const original = globalThis.setImmediate;
  const a = deferred<string>();
  const b = deferred<string>();
  const wa = gpuWait(a.promise, 'sleep');
  const swapped = globalThis.setImmediate;
  const wb = gpuWait(b.promise, 'sleep');
  assert.is(globalThis.setImmediate, swapped, 'the second wait keeps the first swap');
  assert.is(pendingWaits(), 2);
  a.reject(new Error('mapAsync failed'));
  try {
    await wa;
    assert.unreachable('the rejection should propagate');
  } catch (e) {
    assert.is((e as Error).message, 'mapAsync failed');
  }
  assert.is(globalThis.setImmediate, swapped, 'still swapped while b is pending');
  b.resolve('done');
  assert.is(await wb, 'done');
  assert.is(globalThis.setImmediate, original);
  assert.is(pendingWaits(), 0);
});

test('spin: setImmediate is left alone', async () => {
  const original = globalThis.setImmediate;
  const d = deferred<void>();
  const w = gpuWait(d.promise, 'spin');
  assert.is(globalThis.setImmediate, original);
  assert.is(pendingWaits(), 0);
  d.resolve();
  await w;
});

test('the same numbers whichever way the device waits (a matmul chain read back in both modes)', async () => {
  const info = deviceInfo();
  assert.is(info.wait, info.family === 'software' ? 'sleep' : 'spin');
  const x = keep(randn([64, 96]));
  const w = keep(randn([96, 32]));
  const run = () => tidy(() => keep(x.matmul(w).relu().matmul(w.transpose(0, 1)).sum(1)));
  const results: Float32Array[] = [];
  const saved = info.wait;
  try {
    for (const mode of ['spin', 'sleep'] as const) {
      (device().info as { wait: string }).wait = mode;
      const y = run();
      results.push(await y.toArray());
      y.dispose();
    }
  } finally {
    (device().info as { wait: string }).wait = saved;
  }
  assert.equal(Array.from(results[0]), Array.from(results[1]));
  assert.is(pendingWaits(), 0);
  x.dispose();
  w.dispose();
});

test("init({ wait }): switches the running device's mode; anything but 'spin' or 'sleep' is refused", async () => {
  const saved = deviceInfo().wait;
  try {
    assert.is((await init({ wait: 'spin' })).wait, 'spin');
    assert.is(deviceInfo().wait, 'spin');
    assert.is((await init({ wait: 'sleep' })).wait, 'sleep');
    const refused = await init({ wait: 'poll' as 'spin' }).then(
      () => 'accepted',
      (e: Error) => e.message,
    );
    assert.is(refused, `wgrad.init: wait must be 'spin' or 'sleep', got "poll"`);
    assert.is(deviceInfo().wait, 'sleep', 'unchanged by the refused call');
  } finally {
    await init({ wait: saved });
  }
});

test("with the real Dawn: during a long wait, 'sleep' re-arms Dawn's poll far less often than 'spin'", async () => {
  // Counts the immediates that reach Node while sync() waits for a ~100 ms matmul. If a Dawn
  // version stopped looking setImmediate up on the global object, both counts would be alike.
  // Dawn's OpenGLES backend finishes the work inside submit: nothing is left to poll for.
  if (deviceInfo().family === 'browser' || deviceInfo().backend.startsWith('OpenGLES')) {
    return skip(`nothing to poll for on ${deviceInfo().backend}: it finishes the work inside submit`);
  }
  const a = keep(randn([768, 768]));
  const count = async (mode: 'spin' | 'sleep') => {
    const saved = deviceInfo().wait;
    (device().info as { wait: string }).wait = mode;
    const node = globalThis.setImmediate;
    let calls = 0;
    globalThis.setImmediate = ((fn: (...args: unknown[]) => void, ...args: unknown[]) => {
      calls++;
      return node(fn, ...args);
    }) as typeof setImmediate;
    try {
      tidy(() => void a.matmul(a).matmul(a).matmul(a));
      await sync();
    } finally {
      globalThis.setImmediate = node;
      (device().info as { wait: string }).wait = saved;
    }
    return calls;
  };
  await count('sleep'); // warm-up: pipelines
  const spin = await count('spin');
  const sleep = await count('sleep');
  assert.ok(spin > 50, `spin: Dawn re-armed its poll only ${spin} times during the wait`);
  assert.ok(sleep * 5 < spin, `sleep re-armed ${sleep} immediates, spin ${spin}: expected far fewer`);
  a.dispose();
});

test.run();
