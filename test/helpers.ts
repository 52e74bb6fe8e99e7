// Shared test helpers: one device for the whole run, and the two checks every op test uses —
// forward against the float64 CPU reference, backward against finite differences.

import * as assert from 'uvu/assert';
import { init, randn, Tensor, gradcheck, stats, sync, type nn } from '../src/index.ts';
import { compareForward } from '../src/autograd/gradcheck.ts';
import { Generator } from '../src/random.ts';
import { device } from '../src/runtime.ts';

export async function setup(): Promise<void> {
  await init();
}

/** GPU forward of fn vs the float64 reference replay of the same graph: max relative error < tol. */
export async function checkForward(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], tol = 1e-5, what = ''): Promise<void> {
  const r = await compareForward(fn, inputs);
  assert.ok(r.maxRelError < tol, `${what} forward: max relative error ${r.maxRelError} >= ${tol} (shape [${r.shape}])`);
}

/**
 * Analytic GPU gradients vs float64 central differences, at gradcheck's float32 tolerance (rtol 1e-5 of
 * the gradient's scale); a looser opts.rtol must say why next to the call.
 */
export async function checkGrad(
  fn: (...xs: Tensor[]) => Tensor,
  inputs: Tensor[],
  opts: { atol?: number; rtol?: number } = {},
  what = '',
): Promise<void> {
  const r = await gradcheck(fn, inputs, { ...opts, raise: false });
  assert.ok(r.ok, `${what} gradcheck failed (worst ${r.worst}):\n${r.failures.slice(0, 5).join('\n')}`);
}

/** Both checks. */
export async function checkOp(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], what = '', tol = 1e-5): Promise<void> {
  await checkForward(fn, inputs, tol, what);
  await checkGrad(fn, inputs, {}, what);
}

export function randnSeeded(shape: number[], seed = 1): Tensor {
  return randn(shape, { generator: new Generator(seed) });
}

/** A non-contiguous tensor with the given shape (a transposed view of a contiguous one). */
export function nonContiguous(shape: number[], seed = 3): Tensor {
  if (shape.length < 2) throw new Error('nonContiguous needs rank >= 2');
  const swapped = [...shape];
  [swapped[0], swapped[1]] = [swapped[1], swapped[0]];
  const base = randnSeeded(swapped, seed);
  const t = base.transpose(0, 1);
  return t;
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5, what = ''): void {
  assert.is(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  let err = 0;
  for (let i = 0; i < actual.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]));
    err = Math.max(err, Math.abs(actual[i] - expected[i]));
  }
  assert.ok(
    err <= tol * Math.max(scale, 1),
    `${what}: max abs error ${err} exceeds ${tol} × max(|expected|, 1) = ${tol * Math.max(scale, 1)}`,
  );
}

/** Asserts that fn throws an Error whose message contains every fragment (shared with the reference tests). */
export { throwsWith } from './reference/helpers.ts';

/**
 * The kernels that fn dispatches, by name (e.g. map's 'elementwise_vec4' or 'elementwise'): fn's
 * own ops only, as pending work is flushed first.
 */
export async function kernelsOf(fn: () => unknown): Promise<string[]> {
  await sync();
  const dev = device() as unknown as { dispatch: (spec: { kernel: string }) => void };
  const original = dev.dispatch;
  const seen: string[] = [];
  dev.dispatch = function (this: unknown, spec: { kernel: string }) {
    seen.push(spec.kernel);
    return original.call(this, spec);
  };
  try {
    fn();
  } finally {
    dev.dispatch = original;
  }
  return seen;
}

/** fn's result and the number of kernel dispatches it recorded. */
export function withDispatches<T>(fn: () => T): [T, number] {
  const d0 = stats().dispatches;
  const y = fn();
  return [y, stats().dispatches - d0];
}

/**
 * A model that runs a layer → ReLU pair fused (nn.Sequential) against the same computation
 * written unfused: fewer dispatches, the same output, the same gradient for every parameter
 * (loss Σ y²).
 */
export async function checkFusedModel(model: nn.Module, x: Tensor, unfused: () => Tensor): Promise<void> {
  await sync();
  const [yFused, nFused] = withDispatches(() => model.forward(x));
  const [yPlain, nPlain] = withDispatches(unfused);
  assert.ok(nFused < nPlain, `${nFused} vs ${nPlain} dispatches`);
  assertClose(await yFused.toArray(), await yPlain.toArray(), 1e-5, 'forward');
  yFused.square().sum().backward();
  const fusedGrads = await Promise.all(model.parameters().map((p) => p.grad!.toArray()));
  model.zeroGrad();
  unfused().square().sum().backward();
  for (const [i, p] of model.parameters().entries()) assertClose(fusedGrads[i], await p.grad!.toArray(), 1e-5, `grad ${i}`);
}

/** Host copies of named tensors (values and shapes), e.g. to write them for a PyTorch script. */
export async function hostTensors(tensors: Record<string, Tensor>): Promise<Record<string, { data: Float32Array; shape: number[] }>> {
  const out: Record<string, { data: Float32Array; shape: number[] }> = {};
  for (const [k, t] of Object.entries(tensors)) out[k] = { data: await t.toArray(), shape: [...t.shape] };
  return out;
}
