// The generic elementwise launcher behind every pointwise op: out = EXPR(x0, x1, x2) with
// broadcasting and arbitrary input/output strides (kernels/elementwise.wgsl). Public ops in
// elementwise.ts add names, autograd and the CPU reference; backward rules call `map` directly to
// fuse several pointwise steps into one dispatch.

import { Tensor } from '../tensor.ts';
import { broadcastShapes, broadcastStrides, collapse, fmt, numel, sameShape } from '../shape.ts';
import { Uniforms, grid } from './uniforms.ts';

export const ELEMENTWISE_WG = 256;

/**
 * Binding declarations and loads for the inputs. An input that aliases the output buffer (an
 * in-place update such as `p = p - lr * g`) is read through the output binding: WebGPU forbids
 * binding one buffer both read-only and writable in the same dispatch.
 */
function loads(aliased: boolean[]): { inputs: string; loads: string } {
  const decl: string[] = [];
  const ld: string[] = [];
  let binding = 1;
  aliased.forEach((alias, k) => {
    if (alias) {
      ld.push(`let x${k} = out[o[${k}]];`);
    } else {
      decl.push(`@group(0) @binding(${binding++}) var<storage, read> in${k}: array<f32>;`);
      ld.push(`let x${k} = in${k}[o[${k}]];`);
    }
  });
  return { inputs: decl.join('\n'), loads: ld.join('\n  ') };
}

/**
 * Writes EXPR(inputs) into `out` (any strided view whose shape the inputs broadcast to).
 * `label` names the op in errors. Scalars a, b are visible to EXPR as p.a and p.b.
 */
export function mapInto(out: Tensor, inputs: Tensor[], expr: string, label: string, a = 0, b = 0): Tensor {
  if (inputs.length > 3) throw new Error(`wgrad internal: map takes at most 3 inputs (${label})`);
  out.assertAlive(label);
  for (const x of inputs) x.assertAlive(label);
  const n = numel(out.shape);
  if (n === 0) return out;
  const strides = inputs.map((x) => broadcastStrides(x.shape, x.strides, out.shape));
  while (strides.length < 3) strides.push(new Array(out.shape.length).fill(0));
  const c = collapse(out.shape, [...strides, out.strides]);
  const u = new Uniforms()
    .dims8(c.shape, 1)
    .dims8(c.strides[0])
    .dims8(c.strides[1])
    .dims8(c.strides[2])
    .dims8(c.strides[3])
    .vec4u([inputs[0]?.offset ?? 0, inputs[1]?.offset ?? 0, inputs[2]?.offset ?? 0, out.offset])
    .u32(n)
    .u32(c.shape.length)
    .f32(a)
    .f32(b);
  if (tryVec4(out, inputs, expr, label, a, b, n)) return out;
  const aliased = inputs.map((x) => x.storage.buffer === out.storage.buffer);
  const bound = inputs.filter((_, k) => !aliased[k]);
  const { inputs: decl, loads: ld } = loads(aliased);
  out.device.dispatch({
    kernel: 'elementwise',
    params: { INPUTS: decl, OUT: bound.length + 1, LOADS: ld, EXPR: expr, WG: ELEMENTWISE_WG },
    buffers: [...bound.map((x) => x.storage.buffer), out.storage.buffer],
    access: 'r'.repeat(bound.length) + 'w',
    uniforms: u.bytes,
    workgroups: grid(Math.ceil(n / ELEMENTWISE_WG)),
    label,
  });
  return out;
}

/**
 * The vec4 fast path (kernels/elementwise_vec4.wgsl): taken when every operand is contiguous with
 * the output's shape and all offsets and the size are multiples of 4.
 */
function tryVec4(out: Tensor, inputs: Tensor[], expr: string, label: string, a: number, b: number, n: number): boolean {
  if (n % 4 !== 0 || out.offset % 4 !== 0 || !out.isContiguous) return false;
  for (const x of inputs) if (x.offset % 4 !== 0 || !x.isContiguous || !sameShape(x.shape, out.shape)) return false;
  const decl: string[] = [];
  const ld: string[] = [];
  let binding = 1;
  const bound: Tensor[] = [];
  inputs.forEach((x, k) => {
    const field = 'xyzw'[k];
    if (x.storage.buffer === out.storage.buffer) {
      ld.push(`let v${k} = out[p.offsets.${field} + i];`);
    } else {
      decl.push(`@group(0) @binding(${binding++}) var<storage, read> in${k}: array<vec4<f32>>;`);
      ld.push(`let v${k} = in${k}[p.offsets.${field} + i];`);
      bound.push(x);
    }
  });
  const component = (c: string) => expr.replace(/\bx([0-2])\b/g, (_, k: string) => `v${k}.${c}`);
  const u = new Uniforms()
    .vec4u([(inputs[0]?.offset ?? 0) / 4, (inputs[1]?.offset ?? 0) / 4, (inputs[2]?.offset ?? 0) / 4, out.offset / 4])
    .u32(n / 4)
    .f32(a)
    .f32(b);
  out.device.dispatch({
    kernel: 'elementwise_vec4',
    params: { INPUTS: decl.join('\n'), OUT: bound.length + 1, LOADS: ld.join('\n  '), EXPR_X: component('x'), EXPR_Y: component('y'), EXPR_Z: component('z'), EXPR_W: component('w') },
    buffers: [...bound.map((x) => x.storage.buffer), out.storage.buffer],
    access: 'r'.repeat(bound.length) + 'w',
    uniforms: u.bytes,
    workgroups: grid(Math.ceil(n / 4 / 64)),
    label,
  });
  return true;
}

/** A new contiguous tensor of the broadcast shape of the inputs (or `shape`), filled with EXPR. */
export function map(inputs: Tensor[], expr: string, label: string, a = 0, b = 0, shape?: readonly number[]): Tensor {
  const outShape = shape ?? broadcastShapes(label, ...inputs.map((x) => x.shape));
  const out = Tensor.empty(outShape, inputs[0]?.device);
  return mapInto(out, inputs, expr, label, a, b);
}

/** Checks that `out` has exactly the shape the inputs broadcast to (for in-place writes). */
export function checkInto(label: string, out: Tensor, inputs: Tensor[]): void {
  const s = broadcastShapes(label, out.shape, ...inputs.map((x) => x.shape));
  if (!sameShape(s, out.shape)) throw new Error(`${label}: inputs of shapes ${inputs.map((x) => fmt(x.shape)).join(', ')} do not fit the output ${fmt(out.shape)}`);
}

