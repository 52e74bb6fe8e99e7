// The current device. wgrad runs on one WebGPU device at a time: `await init()` picks an adapter
// (see device/acquire.ts) and every tensor created afterwards lives on it. `shutdown()` destroys
// it and lets go of the Dawn instance, so a Node script exits on its own.

import { Device, type Counters, type DeviceInfo } from './device/device.ts';
import { setKernelLoader } from './device/kernels.ts';

let current: Device | null = null;
let starting: Promise<Device> | null = null;

export interface InitOptions {
  /** Force a Dawn backend in Node (default: Vulkan, falling back to OpenGLES). */
  backend?: 'vulkan' | 'opengles';
}

async function installNodeKernelLoader(): Promise<void> {
  if (typeof process === 'undefined' || !process.versions?.node) return;
  const fs = await import('node:fs');
  // kernels/ sits at the package root: two levels above src/device/... in source, three in dist/.
  const candidates = ['../kernels/', '../../kernels/', '../../../kernels/'].map((p) => new URL(p, import.meta.url));
  const dir = candidates.find((u) => fs.existsSync(new URL('elementwise.wgsl', u)));
  if (!dir) throw new Error(`wgrad: cannot find the kernels/ folder next to ${import.meta.url}; the package looks incomplete`);
  setKernelLoader((name) => {
    const file = new URL(`${name}.wgsl`, dir);
    if (!fs.existsSync(file)) throw new Error(`wgrad: kernel file ${file.pathname} not found`);
    return fs.readFileSync(file, 'utf8');
  });
}

/** Starts the GPU device (idempotent). Must be awaited once before creating tensors. */
export async function init(opts: InitOptions = {}): Promise<DeviceInfo> {
  if (current && !current.isLost) return current.info;
  starting ??= (async () => {
    await installNodeKernelLoader();
    return Device.create(opts);
  })();
  try {
    current = await starting;
  } finally {
    starting = null;
  }
  return current.info;
}

/** The device tensors are created on; throws a helpful error before init(). */
export function device(): Device {
  if (!current) throw new Error('wgrad: no GPU device yet: call `await init()` (exported by wgrad) once before creating tensors');
  return current;
}

export function hasDevice(): boolean {
  return current !== null;
}

/** Which adapter and backend wgrad is running on. */
export function deviceInfo(): DeviceInfo {
  return device().info;
}

/** Counters since init: dispatches, submits, pipelines compiled, buffers created vs reused, bytes live. */
export function stats(): Counters {
  return device().stats();
}

/** Waits until the GPU has finished all submitted work. */
export async function sync(): Promise<void> {
  await device().sync();
}

/** Destroys the device; tensors created on it can no longer be used. */
export function shutdown(): void {
  current?.destroy();
  current = null;
}
