// Anomaly detection (opt-in, like torch.autograd.set_detect_anomaly): with
// `setAnomalyDetection(true)` every recorded op checks its output for NaN/±Inf, every backward
// rule checks the gradients it returns, and optimizers check the parameters they update. The
// first op that produced a non-finite value is named in an error, with its input shapes (and,
// for a gradient, "the backward of 'op'").
//
// Design. Ops are synchronous and only record GPU work; reading a value back is asynchronous.
// So a check cannot throw where the op is called. Instead:
//   1. record() (graph.ts), the backward walk (backward.ts) and Optimizer.step call `check`,
//      which appends a description of the op to `entries` (its slot is the index) and records one
//      small kernel (kernels/anomaly_check.wgsl) that, if the tensor holds a non-finite value,
//      does flag[0] = min(flag[0], slot). No readback, no sync: the op stays asynchronous.
//   2. The device runs `checkNow` before every readback and sync() (Device.setReadCheck). It
//      swaps in a fresh flag buffer and entry list (so ops recorded meanwhile go to the next
//      round), reads the old flag (4 bytes; the read submits all recorded work first), and if
//      it is not 0xffffffff throws an error naming entries[flag]: the lowest slot, i.e. the first
//      op in program order whose output was non-finite.
// Cost: one extra dispatch per op and one extra 4-byte readback per read, hence opt-in (for
// debugging a run that diverges). Checks do not create tensors, so tidy()/keep() are unaffected.
// Tensors that no op produced (data uploaded with NaN in it) are not checked themselves; the first
// op that reads them is named. In-place writes outside record() (momentum update, queue, BN
// running statistics) are not checked; the first op reading their result is.

import type { Tensor } from '../tensor.ts';
import type { Device } from '../device/device.ts';
import { collapse, fmt, padRank } from '../shape.ts';
import { UniformLayout } from '../device/uniform-layout.ts';
import { grid } from '../ops/grid.ts';

const ALL_FINITE = 0xffffffff;

interface Entry {
  /** What the error says happened, e.g. "op 'log' (inputs [2, 3]; output [2, 3])". */
  what: string;
}

interface State {
  dev: Device;
  flag: GPUBuffer;
  entries: Entry[];
}

let enabled = false;
let state: State | null = null;
/** Where the ops being recorded run: ", run by the backward of 'op'," or ", inside 'op',". */
let context = '';

/**
 * Turns anomaly detection on or off (off by default; it slows every op down).
 *
 * @example
 * setAnomalyDetection(true);
 * const x = tensor([-1, 1], undefined, { requiresGrad: true });
 * try { await x.log().sum().item(); } catch (e) { console.log((e as Error).message); } // names op 'log'
 * setAnomalyDetection(false);
 */
export function setAnomalyDetection(on: boolean): void {
  enabled = on;
  if (!on) drop();
}

/** Whether setAnomalyDetection(true) is in effect. @example isAnomalyDetectionEnabled() // false by default */
export function isAnomalyDetectionEnabled(): boolean {
  return enabled;
}

function newFlag(dev: Device): GPUBuffer {
  const flag = dev.pool.acquire(4);
  dev.upload(flag, 0, new Uint32Array([ALL_FINITE]));
  return flag;
}

function drop(): void {
  if (!state) return;
  state.dev.setReadCheck(null);
  if (!state.dev.isLost) state.dev.pool.release(state.flag);
  state = null;
}

function stateFor(dev: Device): State {
  if (state?.dev === dev) return state;
  drop(); // a new device after shutdown()/init(): the old flag buffer went with the old one
  const s: State = { dev, flag: newFlag(dev), entries: [] };
  dev.setReadCheck(() => checkNow(s));
  return (state = s);
}

/** Reads the flags of the checks recorded so far; throws naming the first flagged op. */
async function checkNow(s: State): Promise<void> {
  if (s.entries.length === 0) return;
  const { flag, entries } = s;
  s.flag = newFlag(s.dev);
  s.entries = [];
  const slot = new Uint32Array(await s.dev.readUnchecked(flag, 0, 4, 'anomaly check'))[0];
  s.dev.pool.release(flag);
  if (slot === ALL_FINITE) return;
  throw new Error(
    `wgrad anomaly detection: ${entries[slot]?.what ?? `check #${slot}`} produced a non-finite value (NaN or ±Inf); ` +
      `it is the first of the ${entries.length} ops checked since the previous readback to do so`,
  );
}

const shapes = (ts: readonly Tensor[]) => ts.map((t) => fmt(t.shape)).join(', ');

// prettier-ignore
const checkLayout = new UniformLayout(['anomaly_check'], {
  shape: 'array<vec4<u32>, 2>', strides: 'array<vec4<u32>, 2>', offset: 'u32', numel: 'u32', rank: 'u32', slot: 'u32',
});

/** Records a check that `t` holds only finite values; `what` describes who produced it. */
function check(t: Tensor, what: string): void {
  const n = t.size;
  if (n === 0 || t.isDisposed) return;
  const s = stateFor(t.device);
  const slot = s.entries.length;
  s.entries.push({ what });
  const c = collapse(t.shape, [t.strides]);
  const u = checkLayout.pack({ shape: padRank(c.shape), strides: c.strides[0], offset: t.offset, numel: n, rank: c.shape.length, slot });
  s.dev.dispatch({
    kernel: 'anomaly_check',
    buffers: [t.storage.buffer, s.flag],
    access: 'rw',
    uniforms: u,
    workgroups: grid(Math.ceil(n / 256)),
    label: 'anomaly check',
  });
}

/** Called by record(): checks an op's output (views of an input are skipped: they add no values). */
export function checkOutput(out: Tensor, op: string, inputs: readonly Tensor[]): void {
  if (inputs.some((x) => x.storage === out.storage)) return;
  check(out, `op '${op}' (inputs ${shapes(inputs)}; output ${fmt(out.shape)})${context}`);
}

/**
 * Runs fn, attributing the ops it records to the composite op `op` in anomaly errors (for ops
 * whose own kernels are not recorded, e.g. crossEntropy's per-row losses feeding a `mean`).
 */
export function inside<T>(op: string, fn: () => T): T {
  if (!enabled) return fn();
  const prev = context;
  context = `, inside '${op}',`;
  try {
    return fn();
  } finally {
    context = prev;
  }
}

/** Called by Optimizer.step: checks a parameter after its in-place update. */
export function checkUpdate(param: Tensor, op: string, grad: Tensor): void {
  check(param, `'${op}' (updating a parameter of shape ${fmt(param.shape)} with a gradient of shape ${fmt(grad.shape)})`);
}

/** Called by the backward walk: runs a node's backward rule and checks the gradients it returns. */
export function checkedBackward<T extends Tensor | null | undefined>(op: string, inputs: readonly Tensor[], rule: () => T[]): T[] {
  const prev = context;
  context = `, run by the backward of '${op}',`;
  let grads: T[];
  try {
    grads = rule();
  } finally {
    context = prev;
  }
  grads.forEach((g, k) => {
    if (g) check(g, `the backward of '${op}' (inputs ${shapes(inputs)}), in the gradient for input ${k} (shape ${fmt(g.shape)}),`);
  });
  return grads;
}
