// Waiting for the GPU in Node without taking a CPU core away from it.
//
// Dawn's Node bindings learn that work finished by polling: while any promise of theirs is pending
// (queue.onSubmittedWorkDone, buffer.mapAsync) they re-arm `setImmediate` with a native callback
// that processes Dawn's events, again and again: a busy loop that keeps the JS thread at ~100 %
// of a core. On a hardware GPU that is a core the GPU does not need. On a software adapter
// (Mesa lavapipe) the GPU *is* the CPU: the loop takes a core from lavapipe's own worker
// threads, and on the 2-core machine this project is measured on a 1024² matmul ran 27.7 GFLOP/s
// with it and 44.0 without (medians of 10 interleaved rounds; bench/RESULTS.md, "Waiting for the GPU").
//
// So in 'sleep' mode, while one of wgrad's waits is pending, global `setImmediate` is swapped for
// a version that, after the first SPIN_MS of the wait (short waits stay fast), re-arms *native*
// callbacks (Dawn's poll; also a Promise resolver passed directly) with a 1 ms timer instead.
// Callbacks written in JavaScript are left alone. The original is put back when the last wait
// ends. Dawn looks `setImmediate` up on the global object each time it re-arms, which is what
// makes this work; a later Dawn that polls differently simply makes it a no-op.

/** How wgrad waits for the GPU: see InitOptions.wait. */
export type WaitMode = 'spin' | 'sleep';

/** Spin this long at the start of each wait before sleeping between polls. */
const SPIN_MS = 2;
const SLEEP_MS = 1;

type Immediate = typeof setImmediate;
let original: Immediate | null = null;
let pending = 0;
let since = 0;

const isNative = (fn: unknown): boolean => typeof fn === 'function' && Function.prototype.toString.call(fn).endsWith('{ [native code] }');

function throttled(this: unknown, fn: (...args: unknown[]) => void, ...args: unknown[]) {
  if (performance.now() - since < SPIN_MS || !isNative(fn)) return original!.call(this, fn, ...args);
  return setTimeout(fn, SLEEP_MS, ...args);
}

function begin(): void {
  if (pending++ > 0) return;
  since = performance.now();
  original = globalThis.setImmediate;
  globalThis.setImmediate = throttled as unknown as Immediate;
}

function end(): void {
  if (--pending > 0) return;
  // Put the original back unless someone replaced ours meanwhile (then theirs stays).
  if (globalThis.setImmediate === (throttled as unknown as Immediate)) globalThis.setImmediate = original!;
  original = null;
}

/**
 * Resolves as `promise` (a Dawn promise) does; in 'sleep' mode Dawn's polling sleeps 1 ms between
 * checks while it is pending (after the first 2 ms). Safe to overlap with other waits.
 */
export function gpuWait<T>(promise: Promise<T>, mode: WaitMode): Promise<T> {
  if (mode === 'spin' || typeof setImmediate !== 'function') return promise;
  begin();
  return promise.finally(end);
}

/** Number of gpuWait calls still pending (tests). */
export function pendingWaits(): number {
  return pending;
}
