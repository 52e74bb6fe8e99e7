// layerNorm, std, scaledDotProductAttention (composed ops): forward vs the float64 replay and vs
// closed forms written here, gradients vs finite differences, on odd shapes, broadcast batch
// dims, rank 0 (std) and non-contiguous views; masks and causal attention; the initialisers.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tensor, tensor, layerNorm, std, scaledDotProductAttention, nn } from '../../src/index.ts';
import { Generator } from '../../src/random.ts';
import { setup, checkForward, checkGrad, assertClose, throwsWith, withDispatches } from '../helpers.ts';
import { make } from './values.ts';

test.before(setup);

test('layerNorm: forward and gradient over trailing dims, with and without affine, strided inputs', async () => {
  const cases: [number[], number[], 'contiguous' | 'transposed' | 'sliced'][] = [
    [[5, 7], [7], 'contiguous'],
    [[2, 3, 5], [3, 5], 'contiguous'],
    [[4, 6], [6], 'transposed'],
    [[3, 9], [9], 'sliced'],
    [[6], [6], 'contiguous'],
  ];
  let seed = 1;
  for (const [shape, ns, layout] of cases) {
    const x = make(shape, { seed: seed++, layout, scale: 2 }).add(0.5);
    const w = make(ns, { seed: seed++ });
    const b = make(ns, { seed: seed++ });
    const what = `layerNorm ${layout} [${shape}] over [${ns}]`;
    await checkForward((a, c, d) => layerNorm(a, ns, c, d), [x, w, b], 1e-5, what);
    await checkGrad((a, c, d) => layerNorm(a, ns, c, d), [x, w, b], {}, what);
    await checkGrad((a) => layerNorm(a, ns, null, null, 1e-3), [x], {}, `${what} no affine`);
    // Closed form in float64.
    const hx = await x.toArray();
    const [hw, hb] = [await w.toArray(), await b.toArray()];
    const m = ns.reduce((p, q) => p * q, 1);
    const want = new Float64Array(hx.length);
    for (let r = 0; r < hx.length / m; r++) {
      const row = Array.from(hx.subarray(r * m, (r + 1) * m));
      const mu = row.reduce((p, q) => p + q, 0) / m;
      const v = row.reduce((p, q) => p + (q - mu) ** 2, 0) / m;
      row.forEach((q, j) => (want[r * m + j] = ((q - mu) / Math.sqrt(v + 1e-5)) * hw[j] + hb[j]));
    }
    assertClose(await layerNorm(x, ns, w, b).toArray(), want, 1e-5, `${what} closed form`);
  }
  throwsWith(() => layerNorm(tensor([[1, 2]]), [3]), 'layerNorm', '[3]', '[1, 2]');
});

test('layerNorm over the last dim: one row pass and one affine map; weight or bias alone; rows far from 0', async () => {
  const x = make([6, 10], { seed: 31 }).add(1000); // Welford keeps the variance exact here
  const w = make([10], { seed: 32 });
  const b = make([10], { seed: 33 });
  await checkForward((a, c) => layerNorm(a, [10], c), [x, w], 1e-5, 'weight only, offset 1000');
  await checkGrad((a, c) => layerNorm(a, [10], c), [x, w], {}, 'weight only, offset 1000');
  await checkForward((a, c) => layerNorm(a, 10, null, c), [x, b], 1e-5, 'bias only');
  await checkGrad((a, c) => layerNorm(a, 10, null, c), [x, b], {}, 'bias only');
  const x0 = make([6, 10], { seed: 34 });
  const [y, n] = withDispatches(() => layerNorm(x0, [10], w, b));
  assert.is(n, 2, 'dispatches');
  // The composed path (several trailing dims; its f32 mean is not shifted, so rows near 0 here) agrees.
  assertClose(
    await y.toArray(),
    await layerNorm(x0.reshape(6, 2, 5), [2, 5], w.reshape(2, 5), b.reshape(2, 5))
      .reshape(6, 10)
      .toArray(),
    1e-5,
    'fused vs composed',
  );
});

test('std: correction 1 (default) and 0, dims, keepdim, rank 0 and strided inputs', async () => {
  const x = make([4, 5], { seed: 3, layout: 'transposed' });
  for (const [dims, opts] of [
    [undefined, {}],
    [1, { unbiased: false }],
    [[0], { keepdim: true, correction: 0 }],
    [0, { correction: 1 }],
  ] as const) {
    await checkForward((a) => std(a, dims as number, opts), [x], 1e-5, `std ${dims} ${JSON.stringify(opts)}`);
    await checkGrad((a) => std(a, dims as number, opts), [x], {}, `std ${dims}`);
  }
  assertClose(await std(tensor([1, 2, 3, 4])).toArray(), [Math.sqrt(5 / 3)], 1e-6, 'unbiased');
  assertClose(await std(tensor([1, 2, 3, 4]), undefined, { unbiased: false }).toArray(), [Math.sqrt(1.25)], 1e-6, 'biased');
  assertClose(await std(tensor(2), undefined, { correction: 0 }).toArray(), [0], 0, 'rank 0');
  assertClose(
    await tensor([
      [1, 3],
      [2, 6],
    ])
      .std(1, { keepdim: true })
      .toArray(),
    [Math.SQRT2, 2 * Math.SQRT2],
    1e-6,
    'method',
  );
});

/** softmax(q kᵀ · scale + mask) v in float64 for [B, L, E] arrays (mask [L, S] additive or null). */
function attentionRef(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  [B, L, S, E, Ev]: number[],
  scale: number,
  mask: ((i: number, j: number) => number) | null,
): Float64Array {
  const out = new Float64Array(B * L * Ev);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < L; i++) {
      const s = Array.from({ length: S }, (_, j) => {
        let d = 0;
        for (let e = 0; e < E; e++) d += q[(b * L + i) * E + e] * k[(b * S + j) * E + e];
        return d * scale + (mask ? mask(i, j) : 0);
      });
      const mx = Math.max(...s);
      const p = s.map((x) => Math.exp(x - mx));
      const z = p.reduce((x, y) => x + y, 0);
      for (let e = 0; e < Ev; e++) out[(b * L + i) * Ev + e] = p.reduce((acc, pj, j) => acc + (pj / z) * v[(b * S + j) * Ev + e], 0);
    }
  }
  return out;
}

test('scaledDotProductAttention: closed form, masks, causal, scale; gradients to q, k, v and the mask', async () => {
  const [B, L, S, E, Ev] = [3, 5, 7, 4, 3];
  const q = make([B, L, E], { seed: 11 });
  const k = make([B, S, E], { seed: 12 });
  const v = make([B, E, S], { seed: 13 }).transpose(1, 2).slice(2, 0, Ev); // non-contiguous [B, S, Ev]
  const mask = make([L, S], { seed: 14 });
  const [hq, hk, hv, hm] = await Promise.all([q, k, v, mask].map((t) => t.toArray()));
  const dims = [B, L, S, E, Ev];
  assertClose(await scaledDotProductAttention(q, k, v).toArray(), attentionRef(hq, hk, hv, dims, 1 / 2, null), 1e-5, 'plain');
  assertClose(
    await scaledDotProductAttention(q, k, v, { mask, scale: 0.3 }).toArray(),
    attentionRef(hq, hk, hv, dims, 0.3, (i, j) => hm[i * S + j]),
    1e-5,
    'mask',
  );
  assertClose(
    await scaledDotProductAttention(q, k, v, { causal: true }).toArray(),
    attentionRef(hq, hk, hv, dims, 0.5, (i, j) => (j > i ? -Infinity : 0)),
    1e-5,
    'causal',
  );
  const f = (a: Tensor, b: Tensor, c: Tensor, m: Tensor) => scaledDotProductAttention(a, b, c, { mask: m });
  await checkForward(f, [q, k, v, mask], 1e-5, 'sdpa');
  await checkGrad(f, [q, k, v, mask], {}, 'sdpa');
  await checkGrad((a, b, c) => scaledDotProductAttention(a, b, c, { causal: true }), [q, k, v], {}, 'sdpa causal');
  // Heads: batch dims broadcast (k, v shared across the 2 heads).
  const q4 = make([2, 2, L, E], { seed: 15 });
  const k4 = make([2, 1, S, E], { seed: 16 });
  const v4 = make([2, 1, S, E], { seed: 17 });
  await checkForward((a, b, c) => scaledDotProductAttention(a, b, c), [q4, k4, v4], 1e-5, 'sdpa broadcast');
  await checkGrad((a, b, c) => scaledDotProductAttention(a, b, c), [q4, k4, v4], {}, 'sdpa broadcast');
  throwsWith(() => scaledDotProductAttention(q, k, make([B, S + 1, 2])), 'scaledDotProductAttention', 'do not fit');
  throwsWith(() => scaledDotProductAttention(q, k, v, { mask, causal: true }), 'either mask or causal');
});

test('MultiheadAttention: batchFirst and [L, N, E] layouts agree; causal attend; parameters named as PyTorch', async () => {
  const mha = new nn.MultiheadAttention(8, 2, { batchFirst: true, generator: new Generator(3) });
  assert.equal(Object.keys(mha.stateDict()).sort(), ['in_proj_bias', 'in_proj_weight', 'out_proj.bias', 'out_proj.weight']);
  const seqFirst = new nn.MultiheadAttention(8, 2);
  seqFirst.loadStateDict(mha.stateDict());
  const x = make([3, 5, 8], { seed: 4 });
  assertClose(
    await seqFirst.forward(x.transpose(0, 1)).transpose(0, 1).contiguous().toArray(),
    await mha.forward(x).toArray(),
    1e-6,
    'layouts',
  );
  // A causal query 0 sees only key 0: its output does not change when later tokens change.
  const y1 = await mha.attend(x, x, x, { isCausal: true }).slice(1, 0, 1).contiguous().toArray();
  const x2 = x.clone().add(make([3, 5, 8], { seed: 9 }).mul(tensor([0, 1, 1, 1, 1]).reshape(1, 5, 1)));
  const y2 = await mha.attend(x2, x2, x2, { isCausal: true }).slice(1, 0, 1).contiguous().toArray();
  assertClose(y2, y1, 1e-6, 'causal first token');
  throwsWith(() => new nn.MultiheadAttention(10, 3), 'divisible');
  // print(nn.LayerNorm(64), nn.LayerNorm([2, 3], elementwise_affine=False))
  assert.is(String(new nn.LayerNorm(64)), 'LayerNorm((64,), eps=1e-05, elementwise_affine=True)');
  assert.is(String(new nn.LayerNorm([2, 3], { elementwiseAffine: false })), 'LayerNorm((2, 3), eps=1e-05, elementwise_affine=False)');
});

test('initialisers: xavier bounds and variance, truncNormal inside [a, b] with the truncated moments', async () => {
  const g = new Generator(5);
  const xu = await nn.init.xavierUniform([60, 40], { generator: g }).toArray();
  const bound = Math.sqrt(6 / 100);
  assert.ok(xu.every((v) => Math.abs(v) <= bound) && Math.max(...xu.map(Math.abs)) > 0.95 * bound, 'xavierUniform bound');
  const xn = await nn.init.xavierNormal([200, 100], { gain: 2, generator: g }).toArray();
  const sd = Math.sqrt(xn.reduce((p, v) => p + v * v, 0) / xn.length);
  assert.ok(Math.abs(sd - 2 * Math.sqrt(2 / 300)) < 0.02 * sd, `xavierNormal std ${sd}`);
  // N(0.5, 1) on [0, 2]: mean = μ + σ (φ(α) − φ(β)) / Z with α = −0.5, β = 1.5.
  const t = await nn.init.truncNormal([20000], { mean: 0.5, std: 1, a: 0, b: 2, generator: g }).toArray();
  assert.ok(
    t.every((v) => v >= 0 && v <= 2),
    'inside [a, b]',
  );
  const phi = (z: number) => Math.exp((-z * z) / 2) / Math.sqrt(2 * Math.PI);
  const Z = 0.9331927987311419 - 0.3085375387259869; // Φ(1.5) − Φ(−0.5)
  const wantMean = 0.5 + (phi(-0.5) - phi(1.5)) / Z;
  const gotMean = t.reduce((p, v) => p + v, 0) / t.length;
  assert.ok(Math.abs(gotMean - wantMean) < 0.01, `truncNormal mean ${gotMean} vs ${wantMean}`);
  throwsWith(() => nn.init.truncNormal([3], { a: 10, b: 11 }), 'truncNormal', 'holds only');
});

test.run();
