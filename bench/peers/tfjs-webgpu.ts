// tfjs-backend-webgpu on wgrad's own GPUDevice, so that both libraries share one device and one
// queue, for bench/run.ts (Node, Dawn) and bench/web/page.ts (a browser's WebGPU).

type TF = typeof import('@tensorflow/tfjs-core');
type WebGPUBackendClass = typeof import('@tensorflow/tfjs-backend-webgpu').WebGPUBackend;

/**
 * Registers and selects the 'webgpu' backend on `gpu`; returns the settle of a tfjs candidate.
 * tfjs batches its dispatches in an open compute pass: settle ends it and submits, then waits the
 * way wgrad waits (`wait`: wgrad's device().wait, without Dawn's busy polling on software
 * adapters), so that the two are timed alike. Waits inside tfjs' own step (if any) poll as tfjs does.
 */
export async function useTfjsWebgpu(
  tf: TF,
  WebGPUBackend: WebGPUBackendClass,
  gpu: GPUDevice,
  wait: (p: Promise<unknown>) => Promise<unknown>,
): Promise<() => Promise<void>> {
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new WebGPUBackend(gpu), 1);
  if (!(await tf.setBackend('webgpu'))) throw new Error('setBackend(webgpu) returned false');
  const b = tf.backend() as unknown as { commandEncoder: unknown; endComputePassEncoder(): void; submitQueue(): void };
  return async () => {
    if (b.commandEncoder) {
      b.endComputePassEncoder();
      b.submitQueue();
    }
    await wait(gpu.queue.onSubmittedWorkDone());
  };
}
