// Finding a WebGPU adapter. In a browser: navigator.gpu. In Node: Dawn's bindings (npm `webgpu`),
// loaded lazily so that the browser build never imports them. Tried in order: a hardware adapter,
// a software Vulkan one (Mesa lavapipe), then Dawn's OpenGLES backend on Mesa. Every attempt is
// recorded so that "no adapter" errors say what was tried.

export interface Acquired {
  gpu: GPU;
  adapter: GPUAdapter;
  /** Dawn instance (Node only). MUST stay referenced while the device lives: Dawn crashes when it is collected. */
  instance: unknown;
  backend: string;
  attempts: string[];
}

/**
 * Whether the adapter is a CPU rasteriser (lavapipe / llvmpipe, SwiftShader): kernel choice and
 * the way wgrad waits key on it. Dawn's OpenGLES backend names llvmpipe only in `device`
 * ("llvmpipe-llvm-15-0-6-256-bits-"), its Vulkan backend in `description`.
 */
export function isSoftware(info: GPUAdapterInfo): boolean {
  const s = `${info.vendor} ${info.architecture} ${info.device ?? ''} ${info.description}`.toLowerCase();
  return info.isFallbackAdapter === true || /llvmpipe|lavapipe|swiftshader|software/.test(s);
}

function describe(info: GPUAdapterInfo): string {
  return [info.vendor, info.architecture, info.description, info.device].filter(Boolean).join(' ');
}

export async function acquireAdapter(preferBackend?: 'vulkan' | 'opengles'): Promise<Acquired> {
  const attempts: string[] = [];
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu && typeof process === 'undefined') {
    const adapter = await nav.gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (adapter) return { gpu: nav.gpu, adapter, instance: nav.gpu, backend: 'browser', attempts };
    throw new Error(
      'wgrad: navigator.gpu.requestAdapter() returned null: this browser has WebGPU but no usable adapter (try --enable-unsafe-webgpu)',
    );
  }
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  const dawn = await import('webgpu');
  Object.assign(globalThis, dawn.globals); // GPUBufferUsage, GPUMapMode, ... as in a browser
  if (preferBackend !== 'opengles') {
    try {
      const instance = dawn.create([]);
      const hw = await instance.requestAdapter({ powerPreference: 'high-performance' });
      if (hw) {
        const kind = isSoftware(hw.info) ? 'software Vulkan' : 'hardware';
        return { gpu: instance, adapter: hw, instance, backend: `${kind}: ${describe(hw.info)}`, attempts };
      }
      attempts.push('Dawn default backends (Vulkan): no adapter');
    } catch (e) {
      attempts.push(`Dawn default backends (Vulkan): ${(e as Error).message}`);
    }
  }
  try {
    process.env.EGL_PLATFORM ??= 'surfaceless';
    const instance = dawn.create(['backend=opengles']);
    const gl = await instance.requestAdapter({ featureLevel: 'compatibility' } as GPURequestAdapterOptions);
    if (gl) return { gpu: instance, adapter: gl, instance, backend: `OpenGLES (compatibility): ${describe(gl.info)}`, attempts };
    attempts.push('Dawn OpenGLES backend (EGL surfaceless): no adapter');
  } catch (e) {
    attempts.push(`Dawn OpenGLES backend: ${(e as Error).message}`);
  }
  throw new Error(
    `wgrad: no WebGPU adapter found. Tried:\n  - ${attempts.join('\n  - ')}\n` +
      'Fix: run `bash scripts/setup.sh` (installs Mesa lavapipe >= 24 from bookworm-backports on Debian 12), ' +
      'or install a Vulkan driver for your GPU. `node scripts/probe-adapter.mjs` shows what Dawn sees.',
  );
}
