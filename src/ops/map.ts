// The generic elementwise launcher behind every pointwise op: out = EXPR(x0, x1, …) with
// broadcasting and arbitrary input/output strides. It picks the kernel (the vec4 fast path or the
// strided one) and packs its uniforms; the kernels are generated in src/ops/codegen/elementwise.ts.
// Public ops in elementwise.ts add names, autograd and the CPU reference; backward rules call `map`
// directly to fuse several pointwise steps into one dispatch.

import { Tensor } from '../tensor.ts';
import { broadcastShapes, broadcastStrides, collapse, fmt, numel, sameShape } from '../shape.ts';
import { grid } from './grid.ts';
import { ELEMENTWISE_WG, MAP_MAX_INPUTS, dimVecsFor, slotsFor, stridedKernel, vec4Kernel } from './codegen/elementwise.ts';
import type { DType } from '../dtype.ts';

/**
 * Element types of one map: EXPR computes in `compute` (every input is converted to it on load,
 * and the scalars p.a, p.b have it), and the result is converted to the output tensor's dtype.
 */
export interface MapTypes {
  compute?: DType;
  out?: DType;
}

/**
 * Writes EXPR(inputs) into `out` (any strided view whose shape the inputs broadcast to).
 * `label` names the op in errors. Scalars a, b are visible to EXPR as p.a and p.b. Up to 3 inputs
 * take any rank; 4 to MAP_MAX_INPUTS inputs need rank ≤ 4 after contiguous dims are merged.
 */
export function mapInto(out: Tensor, inputs: Tensor[], expr: string, label: string, a = 0, b = 0, compute: DType = 'float32'): Tensor {
  if (inputs.length > MAP_MAX_INPUTS) throw new Error(`wgrad internal: map takes at most ${MAP_MAX_INPUTS} inputs (${label})`);
  out.assertAlive(label);
  for (const x of inputs) {
    x.assertAlive(label);
    // In place, as PyTorch's add_: each input must broadcast to the output's shape, never the reverse.
    const lead = out.shape.length - x.shape.length;
    if (lead < 0 || x.shape.some((d, i) => d !== 1 && d !== out.shape[lead + i])) {
      throw new Error(
        `${label}: an input of shape ${fmt(x.shape)} cannot be written into a tensor of shape ${fmt(out.shape)} (in-place updates keep the target's shape; each input must match it or broadcast to it)`,
      );
    }
  }
  const n = numel(out.shape);
  if (n === 0) return out;
  if (tryVec4(out, inputs, expr, label, a, b, n, compute)) return out;
  const { slots, out: outSlot } = slotsFor(inputs.length);
  const zeros = new Array(out.shape.length).fill(0);
  const strides = Array.from({ length: slots }, (_, k) =>
    k < inputs.length ? broadcastStrides(inputs[k].shape, inputs[k].strides, out.shape) : k === outSlot ? out.strides : zeros,
  );
  const c = collapse(out.shape, strides);
  const dimVecs = dimVecsFor(inputs.length);
  if (c.shape.length > 4 * dimVecs) {
    throw new Error(
      `${label}: ${inputs.length} inputs broadcast to ${fmt(out.shape)}, which stays rank ${c.shape.length} after merging contiguous dims; one elementwise kernel takes rank ≤ 4 with more than 3 inputs (make the operands contiguous, or use fewer inputs)`,
    );
  }
  const aliased = inputs.map((x) => x.storage.buffer === out.storage.buffer);
  const { params, layout } = stridedKernel({ inputs, aliased, rank: c.shape.length, compute, out: out.dtype, expr });
  const shape = padTo([], c.shape, 4 * dimVecs, 1);
  const flatStrides: number[] = [];
  for (const st of c.strides) padTo(flatStrides, st, 4 * dimVecs, 0);
  const offsets = inputs.map((x) => x.offset);
  while (offsets.length < slots) offsets.push(offsets.length === outSlot ? out.offset : 0);
  const uniforms = layout.pack({ shape, strides: flatStrides, offsets, numel: n, a, b });
  const bound = inputs.filter((_, k) => !aliased[k]);
  out.device.dispatch({
    kernel: 'elementwise',
    params,
    buffers: [...bound.map((x) => x.storage.buffer), out.storage.buffer],
    access: 'r'.repeat(bound.length) + 'w',
    uniforms,
    workgroups: grid(Math.ceil(n / ELEMENTWISE_WG)),
    label,
    ints: true,
  });
  return out;
}

/**
 * The vec4 fast path: taken when every operand is contiguous with the output's shape and all
 * offsets and the size are multiples of 4.
 */
function tryVec4(out: Tensor, inputs: Tensor[], expr: string, label: string, a: number, b: number, n: number, compute: DType): boolean {
  if (n % 4 !== 0 || out.offset % 4 !== 0 || !out.isContiguous) return false;
  for (const x of inputs) if (x.offset % 4 !== 0 || !x.isContiguous || !sameShape(x.shape, out.shape)) return false;
  const { slots, out: outSlot } = slotsFor(inputs.length);
  const aliased = inputs.map((x) => x.storage.buffer === out.storage.buffer);
  const bound = inputs.filter((_, k) => !aliased[k]);
  const { params, layout } = vec4Kernel({ inputs, aliased, compute, out: out.dtype, expr });
  const offsets = inputs.map((x) => x.offset / 4);
  while (offsets.length < slots) offsets.push(offsets.length === outSlot ? out.offset / 4 : 0);
  out.device.dispatch({
    kernel: 'elementwise_vec4',
    params,
    buffers: [...bound.map((x) => x.storage.buffer), out.storage.buffer],
    access: 'r'.repeat(bound.length) + 'w',
    uniforms: layout.pack({ offsets, n4: n / 4, a, b }),
    workgroups: grid(Math.ceil(n / 4 / 64)),
    label,
    ints: true,
  });
  return true;
}

/** Appends `values` padded with `pad` to `n` numbers onto `to` (a plain loop: Array.from({ length }) costs µs per dispatch). */
function padTo(to: number[], values: readonly number[], n: number, pad: number): number[] {
  for (let i = 0; i < n; i++) to.push(i < values.length ? values[i] : pad);
  return to;
}

/** A new contiguous tensor of the broadcast shape of the inputs (or `shape`), filled with EXPR. */
export function map(inputs: Tensor[], expr: string, label: string, a = 0, b = 0, shape?: readonly number[], types: MapTypes = {}): Tensor {
  const outShape = shape ?? broadcastShapes(label, ...inputs.map((x) => x.shape));
  const compute = types.compute ?? 'float32';
  const out = Tensor.empty(outShape, inputs[0]?.device, types.out ?? compute);
  return mapInto(out, inputs, expr, label, a, b, compute);
}

/** Checks that `out` has exactly the shape the inputs broadcast to (for in-place writes). */
export function checkInto(label: string, out: Tensor, inputs: Tensor[]): void {
  const s = broadcastShapes(label, out.shape, ...inputs.map((x) => x.shape));
  if (!sameShape(s, out.shape))
    throw new Error(`${label}: inputs of shapes ${inputs.map((x) => fmt(x.shape)).join(', ')} do not fit the output ${fmt(out.shape)}`);
}
