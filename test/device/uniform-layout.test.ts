// Named uniform layouts (src/device/uniform-layout.ts): byte offsets by WGSL's uniform layout
// rules written out by hand, refusals of values that do not fit, the struct reader, the device's
// check when a kernel compiles, and every layout the library declares against its kernel's WGSL.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import { setup } from '../helpers.ts';
import { UniformLayout, PackedUniforms, uniformBytes, uniformStruct, uniformLayouts } from '../../src/device/uniform-layout.ts';
import { kernelSource, registerKernelSource } from '../../src/device/kernel-sources.ts';
import { tensor } from '../../src/index.ts';
import { device as currentDevice } from '../../src/runtime.ts';

test.before(setup);

test('pack places scalars at 4-byte steps and vec4s / arrays at 16-byte boundaries', () => {
  const layout = new UniformLayout(['test_layout_a'], { n: 'u32', shift: 'i32', scale: 'f32', dims: 'array<vec4<u32>, 2>', tail: 'u32' });
  const bytes = layout.pack({ n: 7, shift: -3, scale: 0.5, dims: [1, 2, 3], tail: 9 }).bytes;
  assert.is(layout.size, 64); // 3 scalars (12 B) → array at 16 (32 B) → tail at 48 → rounded to 64
  assert.is(bytes.byteLength, 64);
  const v = new DataView(bytes);
  assert.is(v.getUint32(0, true), 7);
  assert.is(v.getInt32(4, true), -3);
  assert.is(v.getFloat32(8, true), 0.5);
  assert.equal(
    [0, 1, 2, 3, 4, 5, 6, 7].map((i) => v.getUint32(16 + 4 * i, true)),
    [1, 2, 3, 0, 0, 0, 0, 0],
  );
  assert.is(v.getUint32(48, true), 9);
  assert.is(layout.wgsl(), 'struct Params {\n  n: u32,\n  shift: i32,\n  scale: f32,\n  dims: array<vec4<u32>, 2>,\n  tail: u32,\n}');
});

test('pack refuses a missing field, an unknown field and values that do not fit the type', () => {
  const layout = new UniformLayout(['test_layout_b'], { rows: 'u32', off: 'i32', v: 'vec4<u32>' });
  assert.throws(() => layout.pack({ rows: 1, v: [1] } as never), /test_layout_b: no value for field 'off'/);
  assert.throws(() => layout.pack({ rows: 1, off: 0, v: [1], cols: 2 } as never), /no field named 'cols'/);
  assert.throws(() => layout.pack({ rows: -1, off: 0, v: [1] }), /field 'rows' is u32, got -1/);
  assert.throws(() => layout.pack({ rows: 1.5, off: 0, v: [1] }), /field 'rows' is u32, got 1.5/);
  assert.throws(() => layout.pack({ rows: 1, off: 2 ** 31, v: [1] }), /field 'off' is i32/);
  assert.throws(() => layout.pack({ rows: 1, off: 0, v: [1, 2, 3, 4, 5] }), /'v: vec4<u32>' takes up to 4 numbers/);
  assert.throws(() => layout.pack({ rows: [1], off: 0, v: [1] }), /'rows: u32' takes a number/);
});

test('uniformStruct reads the var<uniform> struct, ignoring comments and commas inside types', () => {
  const code = `
    struct Other { x: f32 }
    // struct Params { fake: u32 }
    struct Params {
      a: u32, b: i32,   // two, on a line
      /* block */ dims: array< vec4<u32>,2 >,
      s: f32
    }
    @group(0) @binding(0) var<uniform> p: Params;`;
  assert.equal(uniformStruct(code), [
    { name: 'a', type: 'u32' },
    { name: 'b', type: 'i32' },
    { name: 'dims', type: 'array<vec4<u32>, 2>' },
    { name: 's', type: 'f32' },
  ]);
  assert.is(uniformStruct('@compute @workgroup_size(1) fn main() {}'), null);
});

test('mismatch names the first field that differs', () => {
  const code = 'struct Params { a: u32, b: u32, c: f32, }\n@group(0) @binding(0) var<uniform> p: Params;';
  assert.is(new UniformLayout(['test_layout_c'], { a: 'u32', b: 'u32', c: 'f32' }).mismatch(code), null);
  assert.is(
    new UniformLayout(['test_layout_c'], { a: 'u32', c: 'f32', b: 'u32' }).mismatch(code),
    'field 1: the layout has c: f32, the WGSL struct b: u32',
  );
  assert.is(
    new UniformLayout(['test_layout_c'], { a: 'u32', b: 'i32', c: 'f32' }).mismatch(code),
    'field 1: the layout has b: i32, the WGSL struct b: u32',
  );
  assert.is(
    new UniformLayout(['test_layout_c'], { a: 'u32', b: 'u32' }).mismatch(code),
    'field 2: the layout has nothing, the WGSL struct c: f32',
  );
});

test('the device refuses to run a kernel whose struct disagrees with the packed layout', async () => {
  registerKernelSource(
    'test_layout_kernel',
    `
    struct Params { n: u32, scale: f32, }
    @group(0) @binding(0) var<uniform> p: Params;
    @group(0) @binding(1) var<storage, read_write> out: array<f32>;
    @compute @workgroup_size(1) fn main() { out[0] = p.scale * f32(p.n); }`,
  );
  const out = tensor([0]);
  const dispatch = (layout: UniformLayout<'n' | 'scale'>) =>
    currentDevice().dispatch({
      kernel: 'test_layout_kernel',
      buffers: [out.storage.buffer],
      access: 'w',
      uniforms: layout.pack({ n: 3, scale: 2 }),
      workgroups: [1],
      label: 'layout test',
    });
  const swapped = new UniformLayout(['test_layout_kernel'], { scale: 'f32', n: 'u32' });
  assert.throws(
    () => dispatch(swapped),
    /layout test: the uniform layout does not match kernel 'test_layout_kernel': field 0: the layout has scale: f32, the WGSL struct n: u32/,
  );
  dispatch(new UniformLayout(['test_layout_kernel'], { n: 'u32', scale: 'f32' }));
  assert.equal([...(await out.toArray())], [6]);
  out.dispose();
});

test('packed uniforms from a second copy of the module (not instanceof this PackedUniforms) still reach the kernel', async () => {
  // A test runner that loads src/ both as CommonJS and as ES modules has two PackedUniforms
  // classes: the device must take the bytes of either (conv2d once read all-zero uniforms).
  const layout = new UniformLayout(['test_layout_kernel'], { n: 'u32', scale: 'f32' });
  const packed = layout.pack({ n: 4, scale: 0.5 });
  const foreign = { layout: packed.layout, bytes: packed.bytes } as PackedUniforms;
  assert.ok(!(foreign instanceof PackedUniforms));
  assert.is(uniformBytes(foreign), packed.bytes);
  const out = tensor([0]);
  currentDevice().dispatch({
    kernel: 'test_layout_kernel',
    buffers: [out.storage.buffer],
    access: 'w',
    uniforms: foreign,
    workgroups: [1],
    label: 'layout test',
  });
  assert.equal([...(await out.toArray())], [2]);
  out.dispose();
});

test("every layout the library declares matches its kernel's struct (kernels/ and src/ops/codegen/); every kernel has one", () => {
  const files = readdirSync(new URL('../../kernels/', import.meta.url)).filter((f) => f.endsWith('.wgsl'));
  // A generated kernel's module is named after it (conv2d-tile.ts: conv2d_tile) and registers its
  // skeleton when loaded (src/index.ts loads them all).
  const generated = readdirSync(new URL('../../src/ops/codegen/', import.meta.url))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -3).replace(/-/g, '_'));
  const checked: string[] = [];
  for (const [kernel, layouts] of uniformLayouts()) {
    if (!files.includes(`${kernel}.wgsl`) && !generated.includes(kernel)) continue;
    const source = kernelSource(kernel);
    // A templated struct (holes in it, or the whole struct a hole, {{PARAMS}}, printed per configuration): checked when it compiles.
    const struct = uniformStructText(source);
    if (!struct || /\{\{\w+\}\}/.test(struct)) continue;
    for (const layout of layouts) {
      const differs = layout.mismatch(source);
      if (differs) assert.unreachable(`${kernel}: ${differs}`);
    }
    if (layouts.length > 0) checked.push(kernel);
  }
  for (const k of ['conv2d_pad', 'conv2d_pad4', 'conv2d_tile', 'conv2d_wgrad', 'matmul', 'matmul_tiled', 'matmul_vec4']) {
    assert.ok(checked.includes(k), `${k} not among the checked: ${checked.join(', ')}`);
  }
  assert.not.ok(
    files.some((f) => generated.includes(f.slice(0, -5))),
    'a generated kernel has no kernels/*.wgsl of its own',
  );
  // Every kernels/*.wgsl whose Params struct has no holes needs a layout (generated kernels print theirs from one).
  // Pieces that kernels include (`//! include matmul_params`) have no entry point and are checked in their kernels.
  const plain = files
    .map((f) => f.slice(0, -'.wgsl'.length))
    .filter((k) => {
      const source = kernelSource(k);
      const struct = uniformStructText(source);
      return /@compute/.test(source) && struct !== '' && !/\{\{\w+\}\}/.test(struct);
    });
  assert.ok(plain.includes('matmul') && !plain.includes('matmul_params'), `plain kernels: ${plain.join(', ')}`);
  const missing = plain.filter((k) => !checked.includes(k));
  assert.equal(missing, [], `kernels without a UniformLayout (declare one beside the op that dispatches it): ${missing.join(', ')}`);
});

/** The text of a kernel's Params struct (to see whether it has template holes). */
function uniformStructText(source: string): string {
  return /struct\s+Params\s*\{(?:[^{}]|\{\{\w+\}\})*\}/.exec(source)?.[0] ?? ''; // holes are {{NAME}}: braces too
}

test.run();
