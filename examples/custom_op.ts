// Writing your own op: softplus(x) = log(1 + exp(β·x)) / β with a hand-written WGSL kernel
// (examples/kernels/softplus.wgsl), its backward rule, a float64 CPU reference, and the checks.
//
//   npx tsx examples/custom_op.ts
//
// Output (examples/README.md has all of it):
//   gradcheck softplus(xᵀ, β=2)·w: ok=true, worst error ratio 2.14e-5 (≤ 1 passes)
//   gradcheck of a wrong backward rule (dx = g): ok=false, 12/12 elements fail, worst ratio 256.0
//   custom vs composite on 1000 values: max |Δy| 9.54e-7, max |Δgrad| 1.49e-7
//
// The four parts of an op in wgrad (docs/ARCHITECTURE.md, "Adding an op"):
//   1. the kernel source, registered under a name with registerKernelSource (library kernels
//      live in kernels/ and are found by name; a user kernel can live anywhere);
//   2. the forward launch: device().dispatch({ kernel, params, buffers, access, uniforms, ... }), its
//      uniforms packed by field name with a UniformLayout that mirrors the kernel's struct Params;
//   3. record(out, opName, inputs, attrs, backwardRule): the autograd node; the rule runs under
//      noGrad and returns one gradient per input;
//   4. a float64 CPU reference under the same op name, in referenceOps. gradcheck() replays the
//      recorded graph on these references (in float64) to get central finite differences, so
//      an op without a reference cannot be gradchecked: gradcheck throws "op 'softplus' has no
//      CPU reference". (Ops composed only of recorded primitives need no reference of their own.)
//
// device(), record and referenceOps are engine internals (not in src/index.ts), which
// is why this file imports them from src/ directly.

import { readFileSync } from 'node:fs';
import {
  init,
  deviceInfo,
  manualSeed,
  tensor,
  randn,
  tidy,
  gradcheck,
  registerKernelSource,
  UniformLayout,
  Tensor,
  shutdown,
} from '../src/index.ts';
import { device } from '../src/runtime.ts';
import { record } from '../src/autograd/graph.ts';
import { contiguous } from '../src/ops/shape.ts';
import { grid } from '../src/ops/grid.ts';
import { referenceOps, type RefTensor } from '../src/reference/index.ts';

// 1. The kernel. The name is what `kernel:` refers to in dispatch.
registerKernelSource('softplus', readFileSync(new URL('./kernels/softplus.wgsl', import.meta.url), 'utf8'));
// The kernel's struct Params, field by field. The device compares the two when it compiles the kernel
// and throws, naming the field, if one is missing, extra, renamed, retyped or out of order.
// prettier-ignore
const paramsLayout = new UniformLayout(['softplus'], { n: 'u32', x_offset: 'u32', g_offset: 'u32', beta: 'f32' });

/** One launch of softplus.wgsl: forward (g = null) or backward (dx = g · sigmoid(β·x)). */
function launch(x: Tensor, g: Tensor | null, beta: number, label: string): Tensor {
  const out = Tensor.empty(x.shape); // contiguous, uninitialised; the kernel writes every element
  if (out.size === 0) return out;
  const u = paramsLayout.pack({ n: x.size, x_offset: x.offset, g_offset: g ? g.offset : 0, beta }); // by name, any order
  device().dispatch({
    kernel: 'softplus',
    params: { BACKWARD: g ? 'true' : 'false' }, // fills the BACKWARD template placeholder; one pipeline each
    buffers: [x.storage.buffer, (g ?? x).storage.buffer, out.storage.buffer], // bindings 1, 2, 3
    access: 'rrw', // var<storage, read>, read, read_write
    uniforms: u, // binding 0
    workgroups: grid(Math.ceil(x.size / 64)), // 64 threads per workgroup
    label,
  });
  return out;
}

/** softplus(x) = log(1 + exp(β·x)) / β, differentiable. */
function softplus(input: Tensor, beta = 1): Tensor {
  // The kernel reads a contiguous array (plus an offset): copy strided views first. contiguous()
  // is itself a recorded op, so the gradient flows back through the copy to a transposed input.
  const x = contiguous(input);
  const y = launch(x, null, beta, 'softplus');
  // 3. Autograd: name + attrs must match the reference below; the rule maps dy to [dx].
  //    The saved x stays alive as long as the graph does (inputs are kept by the node).
  return record(y, 'softplus', [x], { beta }, (g) => [launch(x, contiguous(g), beta, 'softplus.backward')]);
}

// 4. The float64 reference: contiguous row-major data in, fresh data out, same attrs.
referenceOps.softplus = ([x]: RefTensor[], { beta }: { beta: number }): RefTensor => ({
  data: x.data.map((v) => Math.max(beta * v, 0) / beta + Math.log1p(Math.exp(-Math.abs(beta * v))) / beta),
  shape: [...x.shape],
});

await init();
console.log(`adapter: ${deviceInfo().backend}`);
manualSeed(0);

// Forward values, including large |x| where the naive formula overflows or rounds to 0.
const probe = new Float32Array([-100, -5, -1, 0, 1, 5, 100]);
const xs = tidy(() => softplus(tensor(probe), 1));
const ys = await xs.toArray();
xs.dispose();
console.log('softplus(x) for x =', Array.from(probe).join(', '));
console.log('  GPU     :', Array.from(ys, (v) => v.toPrecision(6)).join(', '));
console.log('  float64 :', Array.from(probe, (v) => (Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)))).toPrecision(6)).join(', '));

// gradcheck: analytic gradient (our backward rule, on the GPU) vs central finite differences of
// the float64 replay of the same graph. Here softplus sits inside a larger expression, on a
// transposed (non-contiguous) input, to exercise contiguous() and the broadcasting mul too.
const a = randn([6, 5]);
const b = randn([5, 6]);
const r1 = await gradcheck((x, w) => softplus(x.transpose(0, 1), 2).mul(w).sum(1), [a, b]);
console.log(`gradcheck softplus(xᵀ, β=2)·w: ok=${r1.ok}, worst error ratio ${r1.worst.toExponential(2)} (≤ 1 passes)`);

// gradcheck does catch a wrong rule: here the backward forgets the sigmoid factor.
const wrong = (t: Tensor) => record(launch(contiguous(t), null, 1, 'softplus'), 'softplus', [t], { beta: 1 }, (g) => [g]);
const r0 = await gradcheck(wrong, [randn([3, 4])], { raise: false });
console.log(
  `gradcheck of a wrong backward rule (dx = g): ok=${r0.ok}, ${r0.failures.length}/12 elements fail, worst ratio ${r0.worst.toFixed(1)}`,
);

// The same op composed from recorded primitives, log(1 + exp(β·x)) / β: no kernel of its own,
// no reference needed. Its values and gradients should match the custom op's.
const composite = (x: Tensor, beta: number) => x.mul(beta).exp().add(1).log().div(beta);
const x = randn([1000], { std: 3, requiresGrad: true });
const [yCustom, yComp] = [softplus(x, 2), composite(x, 2)];
yCustom.sum().backward();
const gCustom = await x.grad!.toArray();
x.zeroGrad();
yComp.sum().backward();
const gComp = await x.grad!.toArray();
const maxDiff = (p: Float32Array, q: Float32Array) => p.reduce((m, v, i) => Math.max(m, Math.abs(v - q[i])), 0);
console.log(
  `custom vs composite on 1000 values: max |Δy| ${maxDiff(await yCustom.toArray(), await yComp.toArray()).toExponential(2)}, max |Δgrad| ${maxDiff(gCustom, gComp).toExponential(2)}`,
);
const r2 = await gradcheck((t) => composite(t, 2), [randn([4, 3])]);
console.log(`gradcheck of the composite: ok=${r2.ok}, worst ${r2.worst.toExponential(2)}`);
// Where the custom kernel earns its keep: the naive composite overflows in f32 (exp(200) = inf).
const naive = tidy(() => composite(tensor([-100, 100]), 2));
console.log(`composite at x = -100, 100 (β=2): ${Array.from(await naive.toArray()).join(', ')}; the kernel's stable form gives 0, 100`);
naive.dispose();
shutdown();
