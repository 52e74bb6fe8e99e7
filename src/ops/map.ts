// The generic elementwise launcher behind every pointwise op: out = EXPR(x0, x1, …) with
// broadcasting and arbitrary input/output strides (kernels/elementwise.wgsl). Public ops in
// elementwise.ts add names, autograd and the CPU reference; backward rules call `map` directly to
// fuse several pointwise steps into one dispatch.

import { Tensor } from '../tensor.ts';
import { broadcastShapes, broadcastStrides, collapse, fmt, numel, sameShape } from '../shape.ts';
import { Uniforms } from './uniforms.ts';
import { decodeIndex } from './index-decode.ts';
import { grid } from './grid.ts';
import { cachedParams, type KernelParams } from '../device/kernel-sources.ts';
import { wgslType, type DType } from '../dtype.ts';

/**
 * Element types of one map: EXPR computes in `compute` (every input is converted to it on load,
 * and the scalars p.a, p.b have it), and the result is converted to the output tensor's dtype.
 */
export interface MapTypes {
  compute?: DType;
  out?: DType;
}

export const ELEMENTWISE_WG = 256;

/** Most inputs one map dispatch takes (the operand slots must fit a 256-byte uniform slot). */
export const MAP_MAX_INPUTS = 7;

/**
 * Operand slots of kernels/elementwise*.wgsl: up to 3 inputs use slots 0–2 and the output slot 3;
 * more inputs use slots 0..n-1 and the output slot n, rounded up to a multiple of 4.
 */
function slotsFor(inputs: number): { slots: number; out: number } {
  return inputs <= 3 ? { slots: 4, out: 3 } : { slots: 4 * Math.ceil((inputs + 1) / 4), out: inputs };
}
/** Component of the offset vec4s that holds slot k (o0.x is slot 0). */
const slotRef = (vec: string, k: number) => `${vec}${k >> 2}.${'xyzw'[k & 3]}`;

/**
 * Binding declarations and loads for the inputs. An input that aliases the output buffer (an
 * in-place update such as `p = p - lr * g`) is read through the output binding: WebGPU forbids
 * binding one buffer both read-only and writable in the same dispatch. `at(k)` indexes input k.
 */
function loads(inputs: Tensor[], aliased: boolean[], compute: DType, name: string, at: (k: number) => string): { inputs: string; loads: string } {
  const decl: string[] = [];
  const ld: string[] = [];
  const typeOf = (t: string) => (name === 'x' ? t : `vec4<${t}>`);
  const conv = typeOf(wgslType(compute));
  let binding = 1;
  aliased.forEach((alias, k) => {
    if (alias) {
      ld.push(`let ${name}${k} = ${conv}(out[${at(k)}]);`);
    } else {
      decl.push(`@group(0) @binding(${binding++}) var<storage, read> in${k}: array<${typeOf(wgslType(inputs[k].dtype))}>;`);
      ld.push(`let ${name}${k} = ${conv}(in${k}[${at(k)}]);`);
    }
  });
  return { inputs: decl.join('\n'), loads: ld.join('\n  ') };
}

/**
 * Kernel parameters per (path, layout, aliasing, expression), made once (cachedParams). The
 * number of inputs is implied by the aliasing pattern.
 */
const paramsCache = new Map<string, KernelParams>();
const memoParams = (key: string, make: () => KernelParams) => cachedParams(paramsCache, key, make);

/** `vecs` vec4s of dims (2: rank ≤ 8, 1: rank ≤ 4), padded with `pad`. */
function dims(u: Uniforms, values: readonly number[], pad: number, vecs: number): void {
  if (vecs === 2) u.dims8(values, pad);
  else u.vec4u([0, 1, 2, 3].map((i) => values[i] ?? pad));
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
      throw new Error(`${label}: an input of shape ${fmt(x.shape)} cannot be written into a tensor of shape ${fmt(out.shape)} (in-place updates keep the target's shape; each input must match it or broadcast to it)`);
    }
  }
  const n = numel(out.shape);
  if (n === 0) return out;
  if (tryVec4(out, inputs, expr, label, a, b, n, compute)) return out;
  const types = `${inputs.map((x) => x.dtype[0]).join('')}>${compute[0]}>${out.dtype[0]}`;
  const { slots, out: outSlot } = slotsFor(inputs.length);
  const zeros = new Array(out.shape.length).fill(0);
  const strides = Array.from({ length: slots }, (_, k) =>
    k < inputs.length ? broadcastStrides(inputs[k].shape, inputs[k].strides, out.shape) : k === outSlot ? out.strides : zeros);
  const c = collapse(out.shape, strides);
  const dimVecs = inputs.length <= 3 ? 2 : 1;
  if (c.shape.length > 4 * dimVecs) {
    throw new Error(`${label}: ${inputs.length} inputs broadcast to ${fmt(out.shape)}, which stays rank ${c.shape.length} after merging contiguous dims; one elementwise kernel takes rank ≤ 4 with more than 3 inputs (make the operands contiguous, or use fewer inputs)`);
  }
  const u = new Uniforms();
  dims(u, c.shape, 1, dimVecs);
  for (const st of c.strides) dims(u, st, 0, dimVecs);
  const offsets = Array.from({ length: slots }, (_, k) => (k < inputs.length ? inputs[k].offset : k === outSlot ? out.offset : 0));
  for (let g = 0; g < slots / 4; g++) u.vec4u(offsets.slice(4 * g, 4 * g + 4));
  u.u32(n);
  scalars(u, compute, a, b);
  const aliased = inputs.map((x) => x.storage.buffer === out.storage.buffer);
  const bound = inputs.filter((_, k) => !aliased[k]);
  const rank = c.shape.length;
  const params = memoParams(`s|${dimVecs}|${rank}|${aliased.map(Number).join('')}|${types}|${expr}`, () => {
    const { inputs: decl, loads: ld } = loads(inputs, aliased, compute, 'x', (k) => slotRef('o', k));
    const groups = Array.from({ length: slots / 4 }, (_, g) => g);
    return {
      DIM_VECS: dimVecs, SLOTS: slots, OFFSET_VECS: slots / 4, INPUTS: decl, OUT: bound.length + 1,
      INDEX_INIT: groups.map((g) => `var o${g} = p.offsets[${g}];`).join('\n  '),
      // Element i's coordinates, each times every operand's stride added to the offset vec4s.
      INDEX: decodeIndex('i', rank, (d) => `p.shape[${d >> 2}][${d & 3}]`, (coord, d) => groups
        .map((g) => `o${g} += ${coord} * vec4<u32>(${[0, 1, 2, 3].map((j) => `p.strides[${4 * g + j}][${d >> 2}][${d & 3}]`).join(', ')});`)
        .join(' ')),
      LOADS: ld, OUT_INDEX: slotRef('o', outSlot), EXPR: expr, WG: ELEMENTWISE_WG,
      SCALAR_T: wgslType(compute), OUT_T: wgslType(out.dtype),
    };
  });
  out.device.dispatch({
    kernel: 'elementwise',
    params,
    buffers: [...bound.map((x) => x.storage.buffer), out.storage.buffer],
    access: 'r'.repeat(bound.length) + 'w',
    uniforms: u.bytes,
    workgroups: grid(Math.ceil(n / ELEMENTWISE_WG)),
    label,
    ints: true,
  });
  return out;
}

/**
 * The vec4 fast path (kernels/elementwise_vec4.wgsl): taken when every operand is contiguous with
 * the output's shape and all offsets and the size are multiples of 4.
 */
function tryVec4(out: Tensor, inputs: Tensor[], expr: string, label: string, a: number, b: number, n: number, compute: DType): boolean {
  if (n % 4 !== 0 || out.offset % 4 !== 0 || !out.isContiguous) return false;
  for (const x of inputs) if (x.offset % 4 !== 0 || !x.isContiguous || !sameShape(x.shape, out.shape)) return false;
  const { slots, out: outSlot } = slotsFor(inputs.length);
  const offset = (k: number) => `p.offsets[${k >> 2}].${'xyzw'[k & 3]}`;
  const aliased = inputs.map((x) => x.storage.buffer === out.storage.buffer);
  const bound = inputs.filter((_, k) => !aliased[k]);
  const types = `${inputs.map((x) => x.dtype[0]).join('')}>${compute[0]}>${out.dtype[0]}`;
  const params = memoParams(`v|${aliased.map(Number).join('')}|${types}|${expr}`, () => {
    const { inputs: decl, loads: ld } = loads(inputs, aliased, compute, 'v', (k) => `${offset(k)} + i`);
    const component = (c: string) => expr.replace(/\bx(\d+)\b/g, (_, k: string) => `v${k}.${c}`);
    return {
      OFFSET_VECS: slots / 4, OUT_OFFSET: offset(outSlot), INPUTS: decl, OUT: bound.length + 1, LOADS: ld,
      EXPR_X: component('x'), EXPR_Y: component('y'), EXPR_Z: component('z'), EXPR_W: component('w'),
      SCALAR_T: wgslType(compute), COMPUTE_T: wgslType(compute), OUT_T: wgslType(out.dtype),
    };
  });
  const u = new Uniforms();
  const offsets = Array.from({ length: slots }, (_, k) => (k < inputs.length ? inputs[k].offset : k === outSlot ? out.offset : 0) / 4);
  for (let g = 0; g < slots / 4; g++) u.vec4u(offsets.slice(4 * g, 4 * g + 4));
  u.u32(n / 4);
  scalars(u, compute, a, b);
  out.device.dispatch({
    kernel: 'elementwise_vec4',
    params,
    buffers: [...bound.map((x) => x.storage.buffer), out.storage.buffer],
    access: 'r'.repeat(bound.length) + 'w',
    uniforms: u.bytes,
    workgroups: grid(Math.ceil(n / 4 / 64)),
    label,
    ints: true,
  });
  return true;
}

/** The scalars p.a, p.b in the compute type (int32 scalars travel exactly, beyond 2^24). */
function scalars(u: Uniforms, compute: DType, a: number, b: number): void {
  if (compute === 'int32') u.i32(a).i32(b);
  else u.f32(a).f32(b);
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
  if (!sameShape(s, out.shape)) throw new Error(`${label}: inputs of shapes ${inputs.map((x) => fmt(x.shape)).join(', ')} do not fit the output ${fmt(out.shape)}`);
}

