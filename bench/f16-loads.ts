// f16 storage on lavapipe, measured: does reading values packed two per u32 (unpack2x16float, or
// bitcast to vec2<f16> where the adapter has shader-f16) make a load-bound kernel faster per value
// than reading f32? llvmpipe loads storage lane by lane and component by component, so a vec4<u32>
// carrying 8 halves costs one vec4 load for 8 values. bench/RESULTS.md reports the outcome.
//   npx tsx bench/f16-loads.ts
import { init, shutdown } from '../src/index.ts';
import { device } from '../src/runtime.ts';
await init();
const gpu = device().gpu;
const N = 1 << 24; // values
const WG = 64,
  THREADS = 1 << 16;
const kernel = (mode: string) => `
${mode === 'f16' ? 'enable f16;' : ''}
@group(0) @binding(0) var<storage, read> src: array<${mode === 'f32' ? 'vec4<f32>' : 'vec4<u32>'}>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  var acc = vec4<f32>(0.0);
  let per = ${mode === 'f32' ? N / 4 : N / 8}u / ${THREADS}u;
  for (var i = 0u; i < per; i++) {
    let v = src[gid.x + i * ${THREADS}u];
    ${mode === 'f32' ? 'acc += v;' : mode === 'unpack' ? 'acc += vec4<f32>(unpack2x16float(v.x), unpack2x16float(v.y)) + vec4<f32>(unpack2x16float(v.z), unpack2x16float(v.w));' : 'acc += vec4<f32>(vec4<f16>(bitcast<vec2<f16>>(v.x), bitcast<vec2<f16>>(v.y))) + vec4<f32>(vec4<f16>(bitcast<vec2<f16>>(v.z), bitcast<vec2<f16>>(v.w)));'}
  }
  out[gid.x] = acc.x + acc.y + acc.z + acc.w;
}`;
const bytesFor = (mode: string) => (mode === 'f32' ? N * 4 : N * 2);
const modes = ['f32', 'unpack', ...(gpu.features.has('shader-f16') ? ['f16'] : [])];
const run: Record<string, () => Promise<number>> = {};
for (const mode of modes) {
  const src = gpu.createBuffer({ size: bytesFor(mode), usage: GPUBufferUsage.STORAGE });
  const out = gpu.createBuffer({ size: THREADS * 4, usage: GPUBufferUsage.STORAGE });
  const pipe = gpu.createComputePipeline({
    layout: 'auto',
    compute: { module: gpu.createShaderModule({ code: kernel(mode) }), entryPoint: 'main' },
  });
  const bg = gpu.createBindGroup({
    layout: pipe.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: src } },
      { binding: 1, resource: { buffer: out } },
    ],
  });
  run[mode] = async () => {
    const t0 = performance.now();
    const e = gpu.createCommandEncoder();
    const p = e.beginComputePass();
    p.setPipeline(pipe);
    p.setBindGroup(0, bg);
    for (let r = 0; r < 4; r++) p.dispatchWorkgroups(THREADS / WG);
    p.end();
    gpu.queue.submit([e.finish()]);
    await device().wait(gpu.queue.onSubmittedWorkDone());
    return (performance.now() - t0) / 4;
  };
  await run[mode]();
}
const res: Record<string, number[]> = {};
for (let i = 0; i < 7; i++) for (const m of modes) (res[m] ??= []).push(await run[m]());
for (const m of modes) {
  const v = res[m].sort((a, b) => a - b)[3];
  console.log(m.padEnd(7), v.toFixed(1), 'ms per 16M values:', (N / v / 1e6).toFixed(2), 'G values/s');
}
await shutdown();
