// matmul (torch.matmul semantics): 2-D, 1-D operands on either side, batched with broadcast
// batch dims, transposed / sliced / expanded operands read in place, sizes that straddle the
// kernel's 32×32 output tiles. Forward vs the float64 reference, gradients vs finite differences.

import { test, suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Tensor, tensor, matmul, zeros, deviceInfo } from '../../src/index.ts';
import { matmulPlan, setMatmulKernel, type MatmulKernel } from '../../src/ops/matmul.ts';
import { matmulTuning } from '../../src/ops/tuning.ts';
import { epilogueCode, matmulLayout } from '../../src/ops/matmul-launch.ts';
import { vec4Source } from '../../src/ops/codegen/matmul-vec4.ts';
import { fillTemplate, kernelSource, type KernelParams } from '../../src/device/kernel-sources.ts';
import { uniformLayouts } from '../../src/device/uniform-layout.ts';
import { setup, checkForward, checkGrad } from '../helpers.ts';
import { make, type Layout } from './values.ts';

test.before(setup);

const mm = (a: Tensor, b: Tensor) => a.matmul(b);

async function checkBoth(a: Tensor, b: Tensor, what: string, grad = true): Promise<void> {
  await checkForward(mm, [a, b], 1e-5, what);
  if (grad) await checkGrad(mm, [a, b], {}, what);
}

test('2-D: odd sizes, size-1 dims, tile edges', async () => {
  const cases: [number, number, number][] = [
    [3, 5, 4],
    [1, 1, 1],
    [7, 13, 9],
    [1, 6, 5],
    [6, 5, 1],
    [5, 1, 6],
    [33, 5, 4],
    [4, 5, 33],
  ];
  let seed = 1;
  for (const [m, k, n] of cases) {
    await checkBoth(make([m, k], { seed: seed++ }), make([k, n], { seed: seed++ }), `[${m},${k}]@[${k},${n}]`);
  }
  // Larger, several tiles in each direction: forward only (finite differences would be slow).
  await checkBoth(make([70, 37], { seed: 90 }), make([37, 65], { seed: 91 }), '[70,37]@[37,65]', false);
});

test('closed form on a small example', async () => {
  const a = tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const b = tensor([
    [7, 8],
    [9, 10],
    [11, 12],
  ]);
  assert.equal(Array.from(await a.matmul(b).toArray()), [58, 64, 139, 154]);
  assert.equal(Array.from(await matmul(b, a).toArray()), [39, 54, 69, 49, 68, 87, 59, 82, 105]);
});

test('1-D operands: vector·matrix, matrix·vector, dot, batched', async () => {
  const cases: [number[], number[], number[]][] = [
    [[5], [5, 3], [3]],
    [[4, 5], [5], [4]],
    [[5], [5], []],
    [[2, 4, 5], [5], [2, 4]],
    [[5], [2, 5, 3], [2, 3]],
    [[1], [1, 4], [4]],
  ];
  let seed = 10;
  for (const [sa, sb, so] of cases) {
    const a = make(sa, { seed: seed++ });
    const b = make(sb, { seed: seed++ });
    assert.equal(a.matmul(b).shape, so, `shape of [${sa}]@[${sb}]`);
    await checkBoth(a, b, `[${sa}]@[${sb}]`);
  }
  assert.is(
    await tensor([1, 2, 3])
      .matmul(tensor([4, 5, 6]))
      .item(),
    32,
  );
});

test('batched with broadcasting over batch dims (rank 3 to 5)', async () => {
  const cases: [number[], number[]][] = [
    [
      [2, 3, 4],
      [4, 5],
    ],
    [
      [3, 4],
      [2, 4, 5],
    ],
    [
      [2, 3, 4],
      [2, 4, 5],
    ],
    [
      [2, 1, 3, 4],
      [5, 4, 2],
    ], // batch [2,1] vs [5] → [2,5]
    [
      [1, 3, 2, 4],
      [2, 1, 4, 3],
    ], // both broadcast
    [
      [2, 1, 2, 3, 4],
      [1, 3, 1, 4, 2],
    ], // rank 5, batch [2,3,2]
  ];
  let seed = 30;
  for (const [sa, sb] of cases) {
    await checkBoth(make(sa, { seed: seed++ }), make(sb, { seed: seed++ }), `[${sa}]@[${sb}]`);
  }
});

test('transposed, sliced and expanded operands are read in place', async () => {
  let seed = 50;
  const A = (s: number[], layout: 'contiguous' | 'transposed' | 'sliced' | 'expanded') => make(s, { seed: seed++, layout });
  await checkBoth(A([4, 6], 'transposed'), A([6, 5], 'contiguous'), 'aᵀ-stored @ b');
  await checkBoth(A([4, 6], 'contiguous'), A([6, 5], 'transposed'), 'a @ bᵀ-stored');
  await checkBoth(A([4, 6], 'transposed'), A([6, 5], 'transposed'), 'both transposed');
  await checkBoth(A([3, 4, 6], 'transposed'), A([3, 6, 2], 'transposed'), 'batched, both transposed');
  await checkBoth(A([4, 6], 'sliced'), A([6, 3], 'sliced'), 'strided k / n');
  await checkBoth(A([3, 2, 5], 'expanded'), A([3, 5, 4], 'contiguous'), 'batch-expanded a (stride 0)');
  await checkBoth(A([2, 5], 'contiguous'), A([3, 5, 2], 'expanded'), 'batch-expanded b, broadcast a');
  // Operand transposes inside the graph (as in x @ Wᵀ) and a permuted batch.
  const f = (x: Tensor, w: Tensor) => x.matmul(w.T).relu().matmul(w);
  await checkForward(f, [make([4, 6], { seed: 70 }), make([5, 6], { seed: 71 })]);
  await checkGrad(f, [make([4, 6], { seed: 70 }), make([5, 6], { seed: 71 })]);
  const g = (x: Tensor, y: Tensor) => x.permute(1, 0, 2).matmul(y.permute(2, 1, 0));
  await checkForward(g, [make([3, 2, 4], { seed: 72 }), make([5, 4, 2], { seed: 73 })]);
  await checkGrad(g, [make([3, 2, 4], { seed: 72 }), make([5, 4, 2], { seed: 73 })]);
});

test('gradient shapes equal operand shapes (broadcast batch dims summed)', async () => {
  const a = make([2, 1, 3, 4], { seed: 80 }).requiresGrad_();
  const b = make([5, 4, 2], { seed: 81 }).requiresGrad_();
  const v = make([4], { seed: 82 }).requiresGrad_();
  a.matmul(b).sum().backward();
  a.matmul(v).sum().backward();
  assert.equal(a.grad!.shape, [2, 1, 3, 4]);
  assert.equal(b.grad!.shape, [5, 4, 2]);
  assert.equal(v.grad!.shape, [4]);
});

test('empty inner dimension gives zeros', async () => {
  const out = zeros([3, 0]).matmul(zeros([0, 4]));
  assert.equal(out.shape, [3, 4]);
  assert.equal(Array.from(await out.toArray()), new Array(12).fill(0));
});

test.run();

// ---- Kernel variants (src/ops/matmul.ts picks one per adapter and shape) ----------------------
// Every variant is forced in turn (setMatmulKernel, like WGRAD_MATMUL=...) and checked against the
// float64 reference on odd shapes, tile edges, batched + broadcast and transposed operands, and
// through the backward pass (gradcheck). Each case first asserts that the forced kernel really
// runs (matmulPlan), so a silent fallback to the generic kernel fails the test.

const kernels = suite('matmul kernels');
kernels.before(setup);
kernels.after(() => void setMatmulKernel(null));

type Case = { a: number[]; b: number[]; la?: Layout; lb?: Layout; what: string };
// Shapes with K and the operands' row strides multiples of 4, so the vec4 kernel applies too.
const CASES: Case[] = [
  { a: [5, 8], b: [8, 12], what: 'odd M' },
  { a: [1, 16], b: [16, 40], what: 'one row (8-row tiles)' },
  { a: [12, 4], b: [4, 8], what: 'K = 4, 16-row tiles' },
  { a: [37, 12], b: [12, 36], what: 'several row tiles, partial column tile' },
  { a: [70, 64], b: [64, 100], what: 'several tiles both ways, long K' },
  { a: [33, 8], b: [8, 7], lb: 'transposed', what: 'b stored transposed (x·Wᵀ), odd N' },
  { a: [40, 12], b: [12, 20], la: 'transposed', what: 'a stored transposed (gᵀ·x)' },
  { a: [24, 8], b: [8, 9], la: 'transposed', lb: 'transposed', what: 'both stored transposed' },
  { a: [70, 16], b: [16, 3], lb: 'transposed', what: 'N = 3 (computed as Cᵀ = Bᵀ·Aᵀ)' },
  { a: [2, 3, 8, 12], b: [3, 12, 20], what: 'batched, batch dims broadcast' },
  { a: [3, 6, 8], b: [1, 8, 4], lb: 'expanded', what: 'batch-expanded b (stride 0)' },
  { a: [2, 20, 16], b: [2, 16, 8], la: 'transposed', lb: 'transposed', what: 'batched, both transposed' },
];

for (const kernel of ['generic', 'vec4', 'tiled'] as const) {
  kernels(`${kernel}: forward vs float64 reference, kernel really used`, async () => {
    setMatmulKernel(kernel);
    let seed = 200;
    for (const c of CASES) {
      const a = make(c.a, { seed: seed++, layout: c.la ?? 'contiguous' });
      const b = make(c.b, { seed: seed++, layout: c.lb ?? 'contiguous' });
      const plan = matmulPlan(a, b);
      if (kernel !== 'vec4' || deviceInfo().features.includes('subgroups')) {
        assert.is(plan.kernel, kernel, `${c.what}: ran ${plan.detail}`);
      }
      await checkForward(mm, [a, b], 1e-5, `${kernel} ${c.what} (${plan.detail})`);
    }
  });

  kernels(`${kernel}: integer inputs give exact products`, async () => {
    setMatmulKernel(kernel);
    const a = make([9, 16], { domain: 'int', seed: 1 });
    const b = make([16, 12], { domain: 'int', seed: 2 });
    const [ah, bh] = [await a.toArray(), await b.toArray()];
    const want: number[] = [];
    for (let i = 0; i < 9; i++)
      for (let j = 0; j < 12; j++) {
        let s = 0;
        for (let k = 0; k < 16; k++) s += ah[i * 16 + k] * bh[k * 12 + j];
        want.push(s);
      }
    assert.equal(Array.from(await a.matmul(b).toArray()), want);
  });

  kernels(`${kernel}: gradients through the kernel vs finite differences`, async () => {
    setMatmulKernel(kernel);
    // Backward: g·bᵀ (b transposed) and aᵀ·g (a transposed) run through the same kernel.
    const a = make([4, 8], { seed: 300 });
    const b = make([8, 12], { seed: 301 });
    if (kernel !== 'vec4' || deviceInfo().features.includes('subgroups')) {
      assert.is(matmulPlan(a, b).kernel, kernel);
      assert.is(matmulPlan(make([4, 12]), b.T).kernel, kernel, 'g·bᵀ');
      assert.is(matmulPlan(a.T, make([4, 12])).kernel, kernel, 'aᵀ·g');
    }
    await checkGrad(mm, [a, b], {}, `${kernel} [4,8]@[8,12]`);
    await checkGrad(
      mm,
      [make([2, 4, 8], { seed: 302 }), make([8, 4], { seed: 303, layout: 'transposed' })],
      {},
      `${kernel} batched @ transposed`,
    );
    const f = (x: Tensor, w: Tensor) => x.matmul(w.T).relu().matmul(w);
    await checkGrad(f, [make([4, 8], { seed: 304 }), make([12, 8], { seed: 305 })], {}, `${kernel} x·Wᵀ·W`);
  });
}

kernels('tiled: every variant over several K steps, 64×64 and 128×128 tiles, transposed and batched operands', async () => {
  setMatmulKernel('tiled');
  const saved = { ...matmulTuning };
  try {
    const variants = [
      { tiled: 'db4', bk: 0, tile: 0 },
      { tiled: 'db4', bk: 16, tile: 0 },
      { tiled: 'db', bk: 0, tile: 0 },
      { tiled: 'db', bk: 16, tile: 0 },
      { tiled: 'db', bk: 4, tile: 0 },
      { tiled: 'db4', bk: 0, tile: 64 }, // 64×64 tiles forced on shapes that would take 128×128
    ] as const;
    for (const variant of variants) {
      Object.assign(matmulTuning, variant);
      const name = `${variant.tiled} bk ${variant.bk}${variant.tile ? ' tile 64' : ''}`;
      const a = make([130, 40], { seed: 400 });
      const b = make([40, 129], { seed: 401 });
      assert.match(matmulPlan(a, b).detail, variant.tile ? /tiled-db 64x64/ : /tiled-db 128x128/, 'N = 129: no vec4 loads');
      await checkForward(mm, [a, b], 1e-5, `${name} [130,40]@[40,129]`);
      await checkForward(
        mm,
        [make([40, 33], { seed: 402 }), make([33, 70], { seed: 403, layout: 'transposed' })],
        1e-5,
        `${name} 64-tile @ transposed`,
      );
      await checkForward(
        mm,
        [make([3, 37, 21], { seed: 404, layout: 'transposed' }), make([21, 65], { seed: 405 })],
        1e-5,
        `${name} batched transposed @ broadcast`,
      );
      // Shapes db4 reads as vec4s: row-major and transposed operands, batched, edge tiles.
      const aligned: [Tensor, Tensor][] = [
        [make([132, 44], { seed: 406 }), make([44, 136], { seed: 407 })],
        [make([132, 44], { seed: 408, layout: 'transposed' }), make([44, 136], { seed: 409, layout: 'transposed' })],
        [make([2, 68, 24], { seed: 410 }), make([2, 24, 72], { seed: 411, layout: 'transposed' })],
      ];
      for (const [x, y] of aligned) {
        if (variant.tiled === 'db4') assert.match(matmulPlan(x, y).detail, /tiled-db4/, `${name} ${x.shape}@${y.shape}`);
        await checkForward(mm, [x, y], 1e-5, `${name} aligned ${x.shape}@${y.shape}`);
      }
    }
  } finally {
    Object.assign(matmulTuning, saved);
  }
});

kernels('every matmul kernel takes its Params struct and store from the shared pieces; matmulLayout matches every variant', () => {
  const struct = /struct Params \{[^}]*\}/.exec(kernelSource('matmul_params'))![0];
  const bias = tensor([1]);
  const epilogues = [epilogueCode(undefined), epilogueCode({ activation: 'relu' }), epilogueCode({ bias, activation: 'relu' }, 'm')];
  const variants: [string, KernelParams][] = [['matmul', {}]];
  for (const R of [1, 2])
    for (const BK of [4, 8, 16]) {
      variants.push(['matmul_tiled', { R, BK, W: 1, LOAD: 'f32' }], ['matmul_tiled', { R, BK, W: 4, LOAD: 'vec4<f32>' }]);
    }
  for (const rows of [8, 16, 32]) {
    for (const xt of [false, true]) for (const yt of [false, true]) variants.push(['matmul_vec4', vec4Source(rows, xt, yt)]);
  }
  for (const [kernel, params] of variants) {
    for (const e of epilogues) {
      const code = fillTemplate(kernel, { ...params, ...e.params });
      const what = `${kernel} ${JSON.stringify(params).slice(0, 60)} ${e.params.EPILOGUE}`;
      assert.is(code.match(/struct\s+Params\b/g)?.length, 1, `${what}: one Params struct`);
      assert.ok(code.includes(struct), `${what}: the struct of kernels/matmul_params.wgsl`);
      assert.is(code.match(/\bfn store_c\(/g)?.length, 1, `${what}: the store of kernels/matmul_epilogue.wgsl, once`);
      assert.is(matmulLayout.mismatch(code), null, what);
    }
  }
  assert.equal([...matmulLayout.kernels].sort(), ['matmul', 'matmul_tiled', 'matmul_vec4']);
  for (const k of matmulLayout.kernels) assert.equal(uniformLayouts().get(k), [matmulLayout], `${k}: one layout, shared`);
});

kernels('automatic choice: vec4 on a software adapter, generic where vec4 cannot read the operands', async () => {
  setMatmulKernel(null);
  const a = make([16, 8], { seed: 500 });
  const b = make([8, 16], { seed: 501 });
  const odd = make([8, 5], { seed: 502 }); // row stride 5: no vec4 loads
  if (deviceInfo().family === 'software' && deviceInfo().features.includes('subgroups')) {
    assert.is(matmulPlan(a, b).kernel, 'vec4');
    assert.is(matmulPlan(a, odd).kernel, 'generic');
    assert.match(matmulPlan(a, odd).detail, /vec4:/);
  }
  assert.is(matmulPlan(make([3, 5]), make([5, 2])).kernel, 'generic'); // K = 5 for vec4; tiny output for tiled
  assert.throws(() => setMatmulKernel('fast' as MatmulKernel), /unknown kernel 'fast'/);
});

kernels.run();
