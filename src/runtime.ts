// The current device. wgrad runs on one WebGPU device at a time: `await init()` picks an adapter
// (see device/acquire.ts) and every tensor created afterwards lives on it. `shutdown()` destroys
// it and lets go of the Dawn instance, so a Node script exits on its own.

import { Device, type Counters, type DeviceInfo } from './device/device.ts';
import { registerKernelSource, setKernelLoader } from './device/kernel-sources.ts';
import { userTidyCount } from './scope.ts';

let current: Device | null = null;
let starting: Promise<Device> | null = null;
/** Set by shutdown(), so that later calls say the device was shut down rather than never started. */
let wasShutDown = false;

/** Options of init(): which Dawn backend, and the kernel sources where there is no file system. */
export interface InitOptions {
  /**
   * Force a Dawn backend in Node (default: the WGRAD_BACKEND environment variable if set, else
   * Vulkan, falling back to OpenGLES).
   */
  backend?: 'vulkan' | 'opengles';
  /**
   * WGSL sources by name (kernels/<name>.wgsl). Not needed in Node (read from the package's
   * kernels/ folder) nor in a browser loading dist/ as ES modules (init imports the build's
   * dist/kernels.js); pass `kernels` from 'wgrad/kernels' where a bundler cannot follow that.
   */
  kernels?: Record<string, string>;
  /**
   * How to wait for the GPU in Node (readbacks, sync()). Dawn's bindings poll for finished work
   * in a busy loop on the JS thread; 'sleep' lets that loop sleep 1 ms between polls once a wait
   * has lasted 2 ms, 'spin' leaves it alone. Default: 'sleep' on software adapters (lavapipe),
   * where the spinning core is taken from the GPU's own threads (1.5× faster matmuls measured),
   * 'spin' on hardware GPUs, where it gives the lowest latency. See src/device/wait.ts.
   */
  wait?: 'spin' | 'sleep';
}

// Where kernel sources come from: the caller's `kernels`, the kernels/ folder in Node, or in a
// browser the module dist/kernels.js that the build generates next to this file from kernels/.
async function installKernelLoader(kernels?: Record<string, string>): Promise<void> {
  if (kernels) {
    for (const [name, source] of Object.entries(kernels)) registerKernelSource(name, source);
    return;
  }
  if (typeof process === 'undefined' || !process.versions?.node) {
    const url = new URL('./kernels.js', import.meta.url).href; // a variable, so tsc and bundlers leave it alone
    try {
      const mod = (await import(/* @vite-ignore */ url)) as { kernels: Record<string, string> };
      for (const [name, source] of Object.entries(mod.kernels)) registerKernelSource(name, source);
    } catch (e) {
      // Fine if the caller registered every kernel already (registerKernelSource); otherwise the
      // first dispatch of a missing one says why.
      const why = (e as Error).message;
      setKernelLoader((name) => {
        throw new Error(
          `wgrad: kernel '${name}' is not loaded: importing ${url} failed (${why}); with a bundler pass the ` +
            "kernels yourself: `import { kernels } from 'wgrad/kernels'; await init({ kernels })`",
        );
      });
    }
    return;
  }
  const fs = await import('node:fs');
  // kernels/ sits at the package root, next to src/ (running from source) and dist/ (the package).
  const candidates = ['../kernels/', '../../kernels/', '../../../kernels/'].map((p) => new URL(p, import.meta.url));
  const dir = candidates.find((u) => fs.existsSync(new URL('reduce.wgsl', u)));
  if (!dir) throw new Error(`wgrad: cannot find the kernels/ folder next to ${import.meta.url}; the package looks incomplete`);
  setKernelLoader((name) => {
    const file = new URL(`${name}.wgsl`, dir);
    if (!fs.existsSync(file)) throw new Error(`wgrad: kernel file ${file.pathname} not found`);
    return fs.readFileSync(file, 'utf8');
  });
}

/**
 * Starts the GPU device (idempotent: a second call returns the running device's info; of its
 * options only `wait` takes effect then). Must be awaited once before creating tensors.
 *
 * @example
 * const info = await init();
 * console.log(info.backend, info.family); // e.g. 'software Vulkan: … llvmpipe …', 'software'
 */
export async function init(opts: InitOptions = {}): Promise<DeviceInfo> {
  if (opts.wait !== undefined && opts.wait !== 'spin' && opts.wait !== 'sleep') {
    throw new Error(`wgrad.init: wait must be 'spin' or 'sleep', got ${JSON.stringify(opts.wait)}`);
  }
  if (current && !current.isLost) {
    if (opts.wait) current.setWaitMode(opts.wait);
    return current.info;
  }
  starting ??= (async () => {
    await installKernelLoader(opts.kernels);
    const env = typeof process !== 'undefined' ? process.env?.WGRAD_BACKEND : undefined;
    if (env !== undefined && env !== 'vulkan' && env !== 'opengles') {
      throw new Error(`wgrad.init: WGRAD_BACKEND must be 'vulkan' or 'opengles', got ${JSON.stringify(env)}`);
    }
    return Device.create({ ...opts, backend: opts.backend ?? env });
  })();
  try {
    current = await starting;
    const tidiesBefore = userTidyCount(); // counted from this device's start: a new device, a fresh watch
    current.growth.managed = () => userTidyCount() > tidiesBefore;
    wasShutDown = false;
  } finally {
    starting = null;
  }
  return current.info;
}

/** The device tensors are created on; throws a helpful error before init(). */
export function device(): Device {
  if (!current && wasShutDown)
    throw new Error(
      'wgrad: the GPU device was shut down (shutdown() was called); call `await init()` again to start a new one before creating tensors',
    );
  if (!current) throw new Error('wgrad: no GPU device yet: call `await init()` (exported by wgrad) once before creating tensors');
  return current;
}

export function hasDevice(): boolean {
  return current !== null;
}

/**
 * Which adapter and backend wgrad is running on.
 *
 * @example
 * const { backend, family, limits } = deviceInfo();
 * console.log(backend, family, limits.maxBufferSize);
 */
export function deviceInfo(): DeviceInfo {
  return device().info;
}

/**
 * Counters since init: dispatches, submits, pipelines compiled, buffers created vs reused, bytes live.
 *
 * @example
 * const before = stats().dispatches;
 * await tensor([1, 2]).add(1).toArray();
 * console.log(stats().dispatches - before); // 1 (the add; uploads and readbacks are not dispatches)
 */
export function stats(): Counters {
  return device().stats();
}

/**
 * Submits the recorded work and waits until the GPU has finished it (for timing; reading a
 * value with toArray()/item() waits by itself).
 *
 * @example
 * const t0 = performance.now();
 * randn([256, 256]).matmul(randn([256, 256]));
 * await sync();
 * console.log(`${(performance.now() - t0).toFixed(1)} ms`);
 */
export async function sync(): Promise<void> {
  await device().sync();
}

/**
 * Destroys the device; tensors created on it can no longer be used. A Node script calls it at
 * the end so that the process can exit.
 *
 * @example
 * await init();
 * // … work …
 * shutdown();
 */
export function shutdown(): void {
  if (current) wasShutDown = true;
  current?.destroy();
  current = null;
}

/** One row of profile()'s table: a kernel (by op label), how often it ran and its GPU time. */
export interface ProfileRow {
  kernel: string;
  calls: number;
  ms: number;
  /** Share of the summed kernel time, 0..1. */
  share: number;
}

/**
 * Runs fn (sync or async) with per-dispatch GPU timing (timestamp queries) and returns its
 * result with a table of kernels (by op label), calls and GPU time, slowest first. Needs an
 * adapter with the 'timestamp-query' feature (it throws otherwise).
 *
 * @example
 * const a = randn([512, 512]);
 * const { table, totalMs } = await profile(() => a.matmul(a).relu().toArray());
 * console.log(formatProfile(table), totalMs);
 */
export async function profile<T>(fn: () => T | Promise<T>): Promise<{ result: T; table: ProfileRow[]; totalMs: number }> {
  const dev = device();
  dev.startProfile();
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    await dev.stopProfile().catch(() => undefined);
    throw e;
  }
  const totals = await dev.stopProfile();
  const rows = [...totals].map(([kernel, v]) => ({ kernel, calls: v.calls, ms: v.ns / 1e6, share: 0 }));
  const totalMs = rows.reduce((a, r) => a + r.ms, 0);
  for (const r of rows) r.share = totalMs > 0 ? r.ms / totalMs : 0;
  rows.sort((a, b) => b.ms - a.ms);
  return { result, table: rows, totalMs };
}

/**
 * The profile table as aligned text.
 *
 * @example
 * const { table } = await profile(() => randn([64, 64]).exp().sum().item());
 * console.log(formatProfile(table));
 */
export function formatProfile(table: ProfileRow[]): string {
  const lines = table.map(
    (r) =>
      `${r.kernel.padEnd(28)} ${String(r.calls).padStart(6)} ${r.ms.toFixed(2).padStart(10)} ms ${(100 * r.share).toFixed(1).padStart(6)}%`,
  );
  return [`${'kernel'.padEnd(28)} ${'calls'.padStart(6)} ${'GPU time'.padStart(13)} ${'share'.padStart(7)}`, ...lines].join('\n');
}
