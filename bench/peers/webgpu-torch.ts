// webgpu-torch (npm webgpu-torch, a PyTorch-like WebGPU library) as a benchmark peer, on wgrad's
// own GPUDevice so that both run on the same Dawn device and queue (as tfjs-backend-webgpu does).
// It is a browser library: it looks for navigator.gpu and the WebGPU globals (GPUBufferUsage,
// GPUBuffer, …), which Node lacks, so they come from the npm `webgpu` package. What it can run
// (0.3.5): matmul and conv2d forward (no padding, no gradients), elementwise ops between tensors
// of one shape (no scalar or broadcast operands), whole-tensor reductions.

import { createRequire } from 'node:module';

export type WebgpuTorch = typeof import('webgpu-torch');
type WTensor = InstanceType<WebgpuTorch['Tensor']>;

/**
 * Loads webgpu-torch and points it at `gpu` (wgrad's GPUDevice): its device discovery asks
 * navigator.gpu for an adapter and a device, so navigator.gpu answers with this one while it runs.
 */
export async function setupWebgpuTorch(gpu: GPUDevice): Promise<WebgpuTorch> {
  const require = createRequire(import.meta.url);
  const { globals } = require('webgpu') as { globals: Record<string, unknown> };
  for (const [k, v] of Object.entries(globals))
    if (!(k in globalThis)) Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true });
  const torch = require('webgpu-torch') as WebgpuTorch;
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
  const nav = g.navigator as { gpu?: unknown };
  const saved = Object.getOwnPropertyDescriptor(nav, 'gpu');
  const adapter = { requestDevice: async () => gpu };
  Object.defineProperty(nav, 'gpu', { value: { requestAdapter: async () => adapter }, configurable: true });
  const log = console.log;
  try {
    console.log = () => {}; // it logs "Found WebGPU device"
    if (!(await torch.initWebGPUAsync())) throw new Error('initWebGPUAsync() found no device');
  } finally {
    console.log = log;
    if (saved) Object.defineProperty(nav, 'gpu', saved);
    else delete nav.gpu;
  }
  return torch;
}

/** A tensor of uniform(−0.5, 0.5) values: written into its buffer while mapped at creation. */
export function randomTensor(torch: WebgpuTorch, shape: number[]): WTensor {
  const t = torch.zeros(shape);
  const data = (t.storage as unknown as { getTypedArray(dtype: string): Float32Array }).getTypedArray('float32');
  for (let i = 0; i < data.length; i++) data[i] = Math.random() - 0.5;
  return t;
}

/**
 * Frees a tensor's GPU buffer now. webgpu-torch leaves that to the garbage collector, which in a
 * timing loop lets hundreds of MB pile up; destroying after submit is safe in WebGPU (the queued
 * work keeps the buffer until it has run).
 */
export function destroy(...ts: WTensor[]): void {
  for (const t of ts) (t.storage as unknown as { destroy(): void }).destroy();
}
