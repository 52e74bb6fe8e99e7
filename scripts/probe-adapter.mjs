// Prints the WebGPU adapter Dawn finds on this machine ("vendor architecture (backend)"),
// exits 1 if there is none. Used by setup.sh to decide whether a driver must be installed.
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
process.env.XDG_RUNTIME_DIR ??= '/tmp';
const gpu = create([]);
const adapter = await gpu.requestAdapter();
if (!adapter) {
  console.error('no adapter');
  process.exit(1);
}
const info = adapter.info;
const device = await adapter.requestDevice();
device.destroy();
console.log(`${info.vendor} ${info.architecture} ${info.description}`.trim());
process.exit(0);
