// The elementwise kernels behind `map` (src/ops/map.ts): out[i] = EXPR(x0, x1, …) for every
// element of the output, with NumPy broadcasting and arbitrary strides on every input and on the
// output (a view can be written in place, e.g. a slice of a concat result or a parameter updated
// by an optimizer), and a vec4 fast path for contiguous operands. Both WGSL skeletons, their
// generators and their uniform layouts live here.
//
// Layout: every operand is a flat buffer plus an element offset and per-dimension strides
// (stride 0 = broadcast). The host collapses dimensions that are contiguous in all operands, so a
// plain contiguous op runs the index loop once. One thread per output element, no barriers
// (workgroup barriers are expensive on software rasterisers such as lavapipe).
//
// Operands sit in SLOTS slots of strides and offsets, four per vec4 so that one vec4 multiply-add
// per dimension advances four operands: up to 3 inputs use slots 0–2 and the output slot 3
// (rank ≤ 8); more inputs (fuse()) use slots 0..n-1, the output slot n and rank ≤ 4, which keeps
// the struct inside the 256-byte uniform slot every dispatch gets. The Params struct's array
// sizes follow the configuration, so its layout is made per configuration (stridedLayout,
// vec4Layout) and printed into the skeleton's {{PARAMS}}.

import type { Tensor } from '../../tensor.ts';
import { registerKernelSource, cachedParams, type KernelParams } from '../../device/kernel-sources.ts';
import { UniformLayout } from '../../device/uniform-layout.ts';
import { wgslType, type DType } from '../../dtype.ts';
import { decodeIndex } from '../index-decode.ts';

/** Workgroup size of the strided kernel. */
export const ELEMENTWISE_WG = 256;

/** Most inputs one map dispatch takes (the operand slots must fit a 256-byte uniform slot). */
export const MAP_MAX_INPUTS = 7;

// The strided kernel. Template parameters:
//   PARAMS    the uniform struct, stridedLayout(...).wgsl()
//   INPUTS    declarations of the read-only inputs in0..in{n-1} (@binding 1..n)
//   OUT       binding number of the output (n + 1)
//   INDEX_INIT  `var o0 = p.offsets[0];` … one vec4 of offsets per group of 4 slots
//   INDEX     decodes i into coordinates, innermost dimension first, and adds coordinate ×
//             strides to the offsets: unrolled for the (merged) rank at hand, with constant
//             indices into p.shape / p.strides. A loop over dimensions indexing the uniforms by
//             its counter ran 3–4× slower on lavapipe (the indexed uniform loads go lane by lane).
//             One integer division per dimension (the remainder follows by a multiply), none for
//             the outermost dimension (its coordinate is what is left, as i < numel) and none at
//             all for rank ≤ 1: lavapipe divides lane by lane too.
//   LOADS     `let x0 = in0[o0.x];` … one per input;  OUT_INDEX  the output's (`o0.w`)
//   EXPR      the expression of x0, x1, … and the scalars p.a, p.b, in the compute type (f32 or
//             i32: each input is converted to it on load); the result is converted to OUT_T, the
//             output's element type (src/dtype.ts)
//   WG        workgroup size
const STRIDED = /* wgsl */ `
{{PARAMS}}

@group(0) @binding(0) var<uniform> p: Params;
{{INPUTS}}
@group(0) @binding({{OUT}}) var<storage, read_write> out: array<{{OUT_T}}>;

@compute @workgroup_size({{WG}})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * {{WG}}u;
  if (i >= p.numel) { return; }
  // Offsets of element i in each operand.
  {{INDEX_INIT}}
  {{INDEX}}
  {{LOADS}}
  out[{{OUT_INDEX}}] = {{OUT_T}}({{EXPR}});
}
`;

// The vec4 fast path: every operand is contiguous, of the output's shape, with element count and
// offsets divisible by 4. Each thread loads one vec4 per input and writes one vec4, applying EXPR
// to each of the four components. Contiguous vec4 loads let a CPU rasteriser (lavapipe) use vector
// loads instead of gathers. Workgroup size 64 (a multiple of every SIMD width). Template
// parameters: PARAMS (vec4Layout(...).wgsl()), INPUTS (array<vec4<T>> bindings), OUT (output
// binding number), OUT_OFFSET (the output's slot, as in the strided kernel), LOADS
// (`let v0 = vec4<f32>(in0[p.offsets[0].x + i]);` ...), EXPR_X .. EXPR_W (the expression with
// x0 → v0.x, ...; scalars p.a, p.b), COMPUTE_T (the type EXPR computes in) and OUT_T.
const VEC4 = /* wgsl */ `
{{PARAMS}}

@group(0) @binding(0) var<uniform> p: Params;
{{INPUTS}}
@group(0) @binding({{OUT}}) var<storage, read_write> out: array<vec4<{{OUT_T}}>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  if (i >= p.n4) { return; }
  {{LOADS}}
  out[{{OUT_OFFSET}} + i] = vec4<{{OUT_T}}>(vec4<{{COMPUTE_T}}>({{EXPR_X}}, {{EXPR_Y}}, {{EXPR_Z}}, {{EXPR_W}}));
}
`;

registerKernelSource('elementwise', STRIDED);
registerKernelSource('elementwise_vec4', VEC4);

// ---- uniform layouts ----------------------------------------------------------------------------

type Scalar = 'f32' | 'i32';
const layouts = new Map<string, UniformLayout>();
const layoutOnce = <F extends string>(key: string, make: () => UniformLayout<F>): UniformLayout<F> => {
  let l = layouts.get(key);
  if (!l) layouts.set(key, (l = make()));
  return l as UniformLayout<F>;
};

/**
 * The strided kernel's uniforms for `dimVecs` vec4s of dims (2: rank ≤ 8, 1: rank ≤ 4) and
 * `slots` operand slots: strides hold slot k's dims at [k · dimVecs …], offsets slot k at [k / 4][k % 4].
 */
export const stridedLayout = (dimVecs: number, slots: number, scalar: Scalar) =>
  layoutOnce(
    `${dimVecs}|${slots}|${scalar}`,
    () =>
      new UniformLayout(['elementwise'], {
        shape: `array<vec4<u32>, ${dimVecs}>`, // output shape, row-major, padded with 1
        strides: `array<vec4<u32>, ${dimVecs * slots}>`, // per slot, in elements
        offsets: `array<vec4<u32>, ${slots / 4}>`, // element offset of each slot
        numel: 'u32',
        a: scalar, // scalar operands (addScalar's value, pow's exponent, ...) in the compute type
        b: scalar,
      }),
  );

/** The vec4 kernel's uniforms: offsets in vec4 units, slot k at [k / 4][k % 4]; n4 vec4s. */
export const vec4Layout = (slots: number, scalar: Scalar) =>
  layoutOnce(
    `v|${slots}|${scalar}`,
    () => new UniformLayout(['elementwise_vec4'], { offsets: `array<vec4<u32>, ${slots / 4}>`, n4: 'u32', a: scalar, b: scalar }),
  );

// ---- generators ---------------------------------------------------------------------------------

/**
 * Operand slots: up to 3 inputs use slots 0–2 and the output slot 3; more inputs use slots
 * 0..n-1 and the output slot n, rounded up to a multiple of 4.
 */
export function slotsFor(inputs: number): { slots: number; out: number } {
  return inputs <= 3 ? { slots: 4, out: 3 } : { slots: 4 * Math.ceil((inputs + 1) / 4), out: inputs };
}
/** Vec4s per shape / per slot's strides: 2 (rank ≤ 8) for up to 3 inputs, else 1 (rank ≤ 4). */
export const dimVecsFor = (inputs: number) => (inputs <= 3 ? 2 : 1);
/** Component of the offset vec4s that holds slot k (o0.x is slot 0). */
const slotRef = (vec: string, k: number) => `${vec}${k >> 2}.${'xyzw'[k & 3]}`;

/**
 * Binding declarations and loads for the inputs. An input that aliases the output buffer (an
 * in-place update such as `p = p - lr * g`) is read through the output binding: WebGPU forbids
 * binding one buffer both read-only and writable in the same dispatch. `at(k)` indexes input k.
 */
function loads(inputs: readonly Tensor[], aliased: readonly boolean[], compute: DType, name: string, at: (k: number) => string) {
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
  return { inputs: decl.join('\n'), loads: ld.join('\n  '), out: binding };
}

/**
 * Kernel parameters per (path, layout, aliasing, types, expression), made once (cachedParams):
 * the device keys its pipelines by the params object. The number of inputs is implied by the
 * aliasing pattern.
 */
const paramsCache = new Map<string, KernelParams>();
const typesKey = (inputs: readonly Tensor[], compute: DType, out: DType) =>
  `${inputs.map((x) => x.dtype[0]).join('')}>${compute[0]}>${out[0]}`;

/** One strided-kernel configuration: inputs (their dtypes), which alias the output, the merged rank. */
export interface StridedConfig {
  inputs: readonly Tensor[];
  aliased: readonly boolean[];
  rank: number;
  compute: DType;
  out: DType;
  expr: string;
}

/** The strided kernel's parameters for `c`, and its uniform layout. */
export function stridedKernel(c: StridedConfig): { params: KernelParams; layout: ReturnType<typeof stridedLayout> } {
  const { slots, out: outSlot } = slotsFor(c.inputs.length);
  const dimVecs = dimVecsFor(c.inputs.length);
  const scalar = wgslType(c.compute) as Scalar;
  const layout = stridedLayout(dimVecs, slots, scalar);
  const key = `s|${dimVecs}|${c.rank}|${c.aliased.map(Number).join('')}|${typesKey(c.inputs, c.compute, c.out)}|${c.expr}`;
  const params = cachedParams(paramsCache, key, () => {
    const { inputs, loads: ld, out } = loads(c.inputs, c.aliased, c.compute, 'x', (k) => slotRef('o', k));
    const groups = Array.from({ length: slots / 4 }, (_, g) => g);
    // Slot k's stride of dimension d (vec4 d >> 2 of slot k's dimVecs, component d & 3).
    const stride = (k: number, d: number) => `p.strides[${k * dimVecs + (d >> 2)}][${d & 3}]`;
    return {
      PARAMS: layout.wgsl(),
      INPUTS: inputs,
      OUT: out,
      INDEX_INIT: groups.map((g) => `var o${g} = p.offsets[${g}];`).join('\n  '),
      // Element i's coordinates, each times every operand's stride added to the offset vec4s.
      INDEX: decodeIndex(
        'i',
        c.rank,
        (d) => `p.shape[${d >> 2}][${d & 3}]`,
        (coord, d) =>
          groups.map((g) => `o${g} += ${coord} * vec4<u32>(${[0, 1, 2, 3].map((j) => stride(4 * g + j, d)).join(', ')});`).join(' '),
      ),
      LOADS: ld,
      OUT_INDEX: slotRef('o', outSlot),
      EXPR: c.expr,
      WG: ELEMENTWISE_WG,
      OUT_T: wgslType(c.out),
    };
  });
  return { params, layout };
}

/** The vec4 kernel's parameters for inputs (of which `aliased` alias the output), and its uniform layout. */
export function vec4Kernel(c: Omit<StridedConfig, 'rank'>): { params: KernelParams; layout: ReturnType<typeof vec4Layout> } {
  const { slots, out: outSlot } = slotsFor(c.inputs.length);
  const layout = vec4Layout(slots, wgslType(c.compute) as Scalar);
  const offset = (k: number) => `p.offsets[${k >> 2}].${'xyzw'[k & 3]}`;
  const key = `v|${c.aliased.map(Number).join('')}|${typesKey(c.inputs, c.compute, c.out)}|${c.expr}`;
  const params = cachedParams(paramsCache, key, () => {
    const { inputs, loads: ld, out } = loads(c.inputs, c.aliased, c.compute, 'v', (k) => `${offset(k)} + i`);
    const component = (comp: string) => c.expr.replace(/\bx(\d+)\b/g, (_, k: string) => `v${k}.${comp}`);
    return {
      PARAMS: layout.wgsl(),
      OUT_OFFSET: offset(outSlot),
      INPUTS: inputs,
      OUT: out,
      LOADS: ld,
      EXPR_X: component('x'),
      EXPR_Y: component('y'),
      EXPR_Z: component('z'),
      EXPR_W: component('w'),
      COMPUTE_T: wgslType(c.compute),
      OUT_T: wgslType(c.out),
    };
  });
  return { params, layout };
}
