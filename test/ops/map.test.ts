// The elementwise launcher's two kernels: the vec4 fast path (contiguous, same shape, sizes and
// offsets divisible by 4) and the general strided kernel must give the same values.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setup, randnSeeded, checkForward, kernelsOf } from '../helpers.ts';
import { noGrad, sync } from '../../src/index.ts';
import { map, mapInto } from '../../src/ops/map.ts';
import { MAP_MAX_INPUTS, stridedKernel, vec4Kernel } from '../../src/ops/codegen/elementwise.ts';
import { fillTemplate } from '../../src/device/kernel-sources.ts';
import type { DType } from '../../src/dtype.ts';
import type { Tensor } from '../../src/tensor.ts';

test.before(setup);

async function host(expr: string, ...xs: Float32Array[]): Promise<Float64Array> {
  const f = new Function(
    'x0',
    'x1',
    'x2',
    `const max = Math.max, exp = Math.exp; return ${expr.replace(/select\(([^,]+), ([^,]+), ([^)]+)\)/g, '($3 ? $2 : $1)')};`,
  );
  return Float64Array.from(xs[0], (_, i) => f(xs[0][i], xs[1]?.[i], xs[2]?.[i]));
}

test('vec4 path: 3 inputs, aligned slices, matches a host computation', async () => {
  const a = randnSeeded([6, 20], 1);
  const b = randnSeeded([6, 20], 2);
  const c = randnSeeded([6, 20], 3);
  let out = a;
  assert.equal(await kernelsOf(() => (out = map([a, b, c], 'x0 * x1 + max(x2, 0.0)', 'test.vec4'))), ['elementwise_vec4']);
  const want = await host('x0 * x1 + max(x2, 0.0)', await a.toArray(), await b.toArray(), await c.toArray());
  const got = await out.toArray();
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-5, `${i}: ${v} vs ${want[i]}`));

  // A slice starting at an offset divisible by 4 (rows of 20) also takes the vec4 path.
  const rows = a.slice(0, 2, 5);
  assert.equal(await kernelsOf(() => map([rows], 'x0 * 3.0 + 1.0', 'test.slice')), ['elementwise_vec4']);
  await checkForward((x) => x.mul(3).add(1), [rows]);
});

test('strided path for offsets or sizes not divisible by 4 gives the same values', async () => {
  const a = randnSeeded([7, 9], 4); // 63 elements
  await checkForward((x) => x.sigmoid(), [a]);
  const odd = a.slice(0, 1, 5); // offset 9
  await checkForward((x) => x.exp(), [odd]);
  assert.equal(await kernelsOf(() => map([a], 'exp(x0)', 'test.odd')), ['elementwise']);
  assert.equal(await kernelsOf(() => map([odd], 'exp(x0)', 'test.offset')), ['elementwise']);
});

test('in-place update through the vec4 path (input aliases the output)', async () => {
  const p = randnSeeded([8, 16], 5);
  const g = randnSeeded([8, 16], 6);
  const [p0, g0] = [await p.toArray(), await g.toArray()];
  assert.equal(await kernelsOf(() => noGrad(() => mapInto(p, [p, g], 'x0 - p.a * x1', 'sgd', 0.5))), ['elementwise_vec4']);
  const got = await p.toArray();
  got.forEach((v, i) => assert.ok(Math.abs(v - (p0[i] - 0.5 * g0[i])) < 1e-6));
});

test('the generated WGSL of every configuration has no hole left and declares its layout as Params', () => {
  let checked = 0;
  for (let n = 0; n <= MAP_MAX_INPUTS; n++) {
    for (const dtype of ['float32', 'int32'] as DType[]) {
      const inputs = Array.from({ length: n }, () => ({ dtype }) as Tensor);
      const aliased = inputs.map((_, k) => k === 0);
      const expr = inputs.map((_, k) => `x${k}`).join(' + ') || 'p.a';
      for (const rank of n <= 3 ? [0, 1, 2, 5, 8] : [0, 1, 4]) {
        const k = stridedKernel({ inputs, aliased, rank, compute: dtype, out: dtype, expr });
        const code = fillTemplate('elementwise', k.params);
        assert.not.match(code, /\{\{/);
        assert.is(k.layout.mismatch(code), null, `${n} inputs, rank ${rank}, ${dtype}`);
        checked++;
      }
      const v = vec4Kernel({ inputs, aliased, compute: dtype, out: dtype, expr });
      const code = fillTemplate('elementwise_vec4', v.params);
      assert.not.match(code, /\{\{/);
      assert.is(v.layout.mismatch(code), null, `vec4, ${n} inputs, ${dtype}`);
      assert.is(v.layout.size, n <= 3 ? 32 : 48); // offsets (1 or 2 vec4s), then n4, a, b
    }
  }
  assert.is(checked, 2 * (4 * 5 + 4 * 3));
});

test.run();
