// gradcheck(fn, inputs): checks the analytic gradients that wgrad computes on the GPU against
// central finite differences computed in float64 on the CPU. It runs fn once on the GPU with
// gradients, then replays the recorded graph (each node's op name and attrs) on the float64
// reference ops in src/reference, perturbing one input element at a time. The same replay gives
// `compareForward`, the forward check used by the op tests.

import { Tensor } from '../tensor.ts';
import { keep, scoped } from '../scope.ts';
import { Generator } from '../random.ts';
import { fmt } from '../shape.ts';
import { referenceOps, type RefTensor } from '../reference/index.ts';
import { fromArray } from '../ops/creation-internal.ts';

export interface GradcheckOptions {
  /** Finite-difference step (float64). */
  eps?: number;
  /** Absolute floor of the allowed error (for gradients that are all but zero). Default 1e-7. */
  atol?: number;
  /**
   * Allowed error relative to |numeric element| + largest |numeric| of that input. Default 1e-5:
   * the float64 central differences are good to ~1e-9, so the bound is the float32 GPU arithmetic,
   * whose rounding scales with the gradient as a whole, not with each (possibly cancelling) element.
   */
  rtol?: number;
  /** Throw on mismatch (default true); otherwise only report. */
  raise?: boolean;
}

/** What gradcheck() found: ok, the worst error ratio (≤ 1 passes) and the failing elements. */
export interface GradcheckResult {
  ok: boolean;
  /** Largest |analytic - numeric| / (atol + rtol (|numeric| + scale)) over all elements (≤ 1 passes). */
  worst: number;
  failures: string[];
}

interface Tape {
  order: Tensor[];
  /** Host values of the leaves that are not inputs (constants). */
  constants: Map<Tensor, RefTensor>;
}

async function captureTape(out: Tensor, inputs: Tensor[]): Promise<Tape> {
  const order = topoSortAll(out);
  const constants = new Map<Tensor, RefTensor>();
  for (const t of order) {
    if (!t.node && !inputs.includes(t)) constants.set(t, { data: Float64Array.from(await t.toArray()), shape: [...t.shape] });
    if (t.node && !referenceOps[t.node.op]) throw new Error(`gradcheck: op '${t.node.op}' has no CPU reference in src/reference`);
  }
  return { order, constants };
}

/** Like topoSort but also visits inputs that do not need grad (index tensors, constants). */
function topoSortAll(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const visit = (t: Tensor) => {
    const stack: [Tensor, number][] = [[t, 0]];
    seen.add(t);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const ins = top[0].node?.inputs ?? [];
      if (top[1] < ins.length) {
        const next = ins[top[1]++];
        if (!seen.has(next)) {
          seen.add(next);
          stack.push([next, 0]);
        }
      } else {
        order.push(top[0]);
        stack.pop();
      }
    }
  };
  visit(root);
  return order;
}

function replay(tape: Tape, inputs: Tensor[], values: RefTensor[]): RefTensor {
  const vals = new Map<Tensor, RefTensor>(tape.constants);
  inputs.forEach((t, i) => vals.set(t, values[i]));
  for (const t of tape.order) {
    if (vals.has(t)) continue;
    const node = t.node!;
    vals.set(
      t,
      referenceOps[node.op](
        node.inputs.map((x) => vals.get(x)!),
        node.attrs,
      ),
    );
  }
  return vals.get(tape.order[tape.order.length - 1])!;
}

async function hostValue(t: Tensor): Promise<RefTensor> {
  return { data: Float64Array.from(await t.toArray()), shape: [...t.shape] };
}

/**
 * Runs fn on fresh leaf copies of `inputs`, and returns the GPU output next to the float64
 * reference output of the same graph. Used by op tests: relative error = max|gpu-ref| / max|ref|.
 */
export async function compareForward(
  fn: (...xs: Tensor[]) => Tensor,
  inputs: Tensor[],
): Promise<{ gpu: Float32Array; ref: Float64Array; shape: number[]; maxRelError: number }> {
  const leaves = inputs.map((x) => keep(x.detach().requiresGrad_(true)));
  const out = keep(fn(...leaves));
  if (!out.node) throw new Error('compareForward: fn did not record any op (did it use the inputs?)');
  const tape = await captureTape(out, leaves);
  const ref = replay(tape, leaves, await Promise.all(leaves.map(hostValue)));
  const gpu = await out.toArray();
  if (ref.data.length !== gpu.length)
    throw new Error(`compareForward: reference output has ${ref.data.length} values, GPU ${gpu.length} (shape ${fmt(out.shape)})`);
  let maxErr = 0;
  let scale = 0;
  for (let i = 0; i < gpu.length; i++) {
    if (!(Number.isFinite(ref.data[i]) && Number.isFinite(gpu[i]))) {
      if (!Object.is(ref.data[i], gpu[i]) && !(Number.isNaN(ref.data[i]) && Number.isNaN(gpu[i])) && ref.data[i] !== gpu[i])
        maxErr = Infinity;
      continue;
    }
    maxErr = Math.max(maxErr, Math.abs(gpu[i] - ref.data[i]));
    scale = Math.max(scale, Math.abs(ref.data[i]));
  }
  const result = { gpu, ref: ref.data, shape: [...out.shape], maxRelError: maxErr / Math.max(scale, 1e-30) };
  out.dispose();
  for (const l of leaves) l.dispose();
  return result;
}

/**
 * Checks d(sum(fn(inputs) * w))/d(inputs) for a random w: analytic (GPU, float32) against central
 * finite differences of the float64 reference replay of the same graph.
 *
 * @example
 * const r = await gradcheck((a, b) => a.matmul(b).tanh(), [randn([3, 4]), randn([4, 2])]);
 * console.log(r.ok, r.worst); // true, well below 1 (it throws on a mismatch unless raise: false)
 */
export async function gradcheck(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradcheckOptions = {}): Promise<GradcheckResult> {
  const eps = opts.eps ?? 1e-6;
  const atol = opts.atol ?? 1e-7;
  const rtol = opts.rtol ?? 1e-5;
  const leaves = inputs.map((x) => keep(x.detach().requiresGrad_(true)));
  const out = keep(fn(...leaves));
  if (!out.node) throw new Error('gradcheck: fn did not record any op on the inputs');
  const rng = new Generator(1234);
  const wData = new Float64Array(out.size).map(() => rng.uniform() * 2 - 1);
  const w = keep(fromArray(Float32Array.from(wData), out.shape));
  const tape = await captureTape(out, leaves);
  scoped(() => out.backward(w, { retainGraph: false }));
  const analytic = await Promise.all(leaves.map(async (l) => (l.grad ? l.grad.toArray() : new Float32Array(l.size))));
  const base = await Promise.all(leaves.map(hostValue));
  const objective = (vals: RefTensor[]) => {
    const o = replay(tape, leaves, vals);
    let s = 0;
    for (let i = 0; i < o.data.length; i++) s += o.data[i] * wData[i];
    return s;
  };
  const failures: string[] = [];
  let worst = 0;
  leaves.forEach((leaf, k) => {
    const data = base[k].data;
    const numeric = data.map((orig, i) => {
      const h = eps * Math.max(1, Math.abs(orig));
      data[i] = orig + h;
      const fp = objective(base);
      data[i] = orig - h;
      const fm = objective(base);
      data[i] = orig;
      return (fp - fm) / (2 * h);
    });
    const scale = numeric.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    for (let i = 0; i < data.length; i++) {
      const err = Math.abs(analytic[k][i] - numeric[i]) / (atol + rtol * (Math.abs(numeric[i]) + scale));
      if (!(err <= 1))
        failures.push(`input ${k} (shape ${fmt(leaf.shape)}) element ${i}: analytic ${analytic[k][i]} vs numeric ${numeric[i]}`);
      worst = Math.max(worst, Number.isNaN(err) ? Infinity : err);
    }
  });
  for (const t of [out, w, ...leaves]) {
    t.grad?.dispose();
    t.dispose();
  }
  const result = { ok: failures.length === 0, worst, failures };
  if (!result.ok && opts.raise !== false) {
    throw new Error(
      `gradcheck: ${failures.length} gradient element(s) disagree with finite differences:\n  ${failures.slice(0, 10).join('\n  ')}`,
    );
  }
  return result;
}
