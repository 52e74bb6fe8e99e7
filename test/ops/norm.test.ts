// batchNorm and normalize: forward vs the float64 reference, gradients vs finite differences,
// MoCo's interleaved SplitBatchNorm (groups) and the running statistics vs PyTorch and closed
// forms, long channels (partial sums), errors; fused batch norm + ReLU vs the eager
// batchNorm → relu path and the reference; the vec4 apply kernel vs the generic one; normalize.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tensor, tensor, zeros, ones, batchNorm, normalize, noGrad } from '../../src/index.ts';
import * as R from '../../src/reference/index.ts';
import { applyCoefficients, coefficients } from '../../src/ops/norm.ts';
import { setup, checkForward, checkGrad, randnSeeded, assertClose } from '../helpers.ts';

test.before(setup);

/** scale·sin(a·i + b) + shift, row-major: in Python `scale * (torch.arange(n) * a + b).sin() + shift`. */
function seq(shape: number[], a: number, b: number, scale = 1, shift = 0, fn: (v: number) => number = Math.sin): Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  return tensor(
    Array.from({ length: n }, (_, i) => scale * fn(a * i + b) + shift),
    shape,
  );
}

const host = async (t: Tensor): Promise<R.RefTensor> => ({ data: Float64Array.from(await t.toArray()), shape: [...t.shape] });

// ---- training mode vs the reference and finite differences ----------------------------------

const CASES: { shape: number[]; groups: number }[] = [
  { shape: [6, 5], groups: 1 },
  { shape: [5, 3, 3, 5], groups: 1 },
  { shape: [6, 3, 1, 7], groups: 2 },
  { shape: [12, 5], groups: 4 },
  { shape: [8, 3, 3], groups: 4 },
];

for (const { shape, groups } of CASES) {
  test(`batchNorm training ${JSON.stringify(shape)} groups=${groups}: forward and gradients of x, weight, bias`, async () => {
    const c = shape[1];
    const x = randnSeeded(shape, 3).mul(2).add(0.7);
    const w = randnSeeded([c], 4);
    const b = randnSeeded([c], 5);
    const f = (xx: Tensor, ww: Tensor, bb: Tensor) => batchNorm(xx, null, null, ww, bb, { training: true, groups });
    await checkForward(f, [x, w, b], 1e-5, 'batchNorm');
    await checkGrad(f, [x, w, b], {}, 'batchNorm');
  });
}

test('batchNorm training without affine parameters, with a bias only, and on a permuted (NHWC) view', async () => {
  const x = randnSeeded([4, 3, 2, 5], 8);
  await checkForward((xx) => batchNorm(xx, null, null, null, null, { training: true }), [x], 1e-5, 'no affine');
  await checkGrad((xx) => batchNorm(xx, null, null, null, null, { training: true, groups: 2 }), [x], {}, 'no affine');
  await checkGrad((xx, bb) => batchNorm(xx, null, null, null, bb, { training: true }), [x, randnSeeded([3], 9)], {}, 'bias only');
  const nhwc = randnSeeded([4, 2, 5, 3], 10).permute(0, 3, 1, 2); // [4, 3, 2, 5] with strides of NHWC
  await checkForward(
    (xx, ww) => batchNorm(xx, null, null, ww, null, { training: true, groups: 2 }),
    [nhwc, randnSeeded([3], 11)],
    1e-5,
    'permuted',
  );
  await checkGrad(
    (xx, ww) => batchNorm(xx, null, null, ww, null, { training: true }).mul(xx),
    [nhwc, randnSeeded([3], 11)],
    {},
    'permuted',
  );
});

// ---- interleaved groups vs PyTorch ------------------------------------------------------------
// SplitBatchNorm as MoCo's official code computes it, run with /usr/bin/python3 (torch 1.13, float64):
//   import torch, torch.nn.functional as F; a = lambda n, s, o: torch.arange(n, dtype=torch.float64) * s + o
//   def split_bn(x, rm, rv, w, b, G, momentum=0.1, eps=1e-5):
//       N, C = x.shape[:2]; rms = rm.repeat(G); rvs = rv.repeat(G)
//       y = F.batch_norm(x.view(-1, C*G, *x.shape[2:]), rms, rvs, w.repeat(G), b.repeat(G), True, momentum, eps).view(x.shape)
//       rm.copy_(rms.view(G, C).mean(0)); rv.copy_(rvs.view(G, C).mean(0)); return y

test('batchNorm groups=2 on [6, 3, 2, 3] matches PyTorch split BN, output and running stats after two steps', async () => {
  // x = 2 * a(108, .37, .2).sin().reshape(6,3,2,3) + 0.5; w = [1.5,-0.5,2.0]; b = [0.25,0.,-1.]; rm = zeros(3); rv = ones(3)
  // y = split_bn(x, rm, rv, w, b, 2); print(y.flatten().tolist(), rm.tolist(), rv.tolist())
  // x2 = 1.5 * a(108, .53, .9).cos().reshape(6,3,2,3); split_bn(x2, rm, rv, w, b, 2); print(rm.tolist(), rv.tolist())
  const want = [
    -1.409868654417103, -0.10917857556914826, 0.9128943342790279, 1.5180173015402463, 1.6242897713558668, 1.2173282634830378,
    -1.2620240440258832, -0.9306675707395267, -0.5504628987984862, -0.17286894692923582, 0.15100871485602538, 0.3773347644134581,
    -4.11147176483004, -3.9854787792892976, -3.4651362716745413, -2.6208701593543764, -1.5669478999999618, -0.44601292724209496,
    0.3408362608922883, 1.1420117853644058, 1.6126048607818404, 1.6889229220387576, 1.3606366775682455, 0.6721781304989957,
    -1.2996553811153009, -0.8201577778426791, -0.3451663645133536, 0.06103099936400624, 0.3434574061465719, 0.4638877665984939,
    -4.94849660307542, -4.38896242636464, -3.4874268441155567, -2.365908468090978, -1.1761995492052844, -0.07932160845282502,
    0.9432719907315464, 1.5310809033789703, 1.6182712213560535, 1.193042144152868, 0.3129464325290833, -0.9028990876626376,
    -0.5361843126395823, -0.15968688861451688, 0.16131011557349298, 0.38336126127261855, 0.4764129676015017, 0.4278711226338133,
    -3.4391985421016362, -2.584955771174542, -1.5259176971713269, -0.4054201552361322, 0.6248827688216954, 1.4255444076004593,
    1.6226405925197098, 1.6838970403033717, 1.3412294118750125, 0.6410161632158916, -0.3219721273168202, -1.4173995121818004,
    -0.32860796313476975, 0.07392287185790605, 0.3509378952922473, 0.4649444232826367, 0.40051220709437674, 0.16636184492335673,
    -3.4491523330385343, -2.3223076238677933, -1.1331735415607433, -0.04269380567748529, 0.8015402672018722, 1.2852655557941939,
    1.6115493914820769, 1.1681317343441875, 0.2732189498932862, -0.9520667147208481, -2.34188859286759, -3.7081408132889324,
    0.1714757161406108, 0.3892107103651649, 0.4771545697258041, 0.4234045054213613, 0.23523533650249145, -0.06188512275911247,
    -1.4848031431114965, -0.36495117257169385, 0.6592288931357078, 1.44911908676307, 1.8978114761453666, 1.9445776512908388,
    1.3213314258047384, 0.609493545262406, -0.360852938692784, -1.4583761815586451, -2.5345315611275874, -3.4436664952480203,
    0.35819466028688046, 0.46575617827349475, 0.3947690848515598, 0.1548411501002228, -0.2215545055647373, -0.6834744959009146,
    -1.0902829339751825, -0.006403967507934533, 0.8263176766025024, 1.2951770302996137, 1.336716179579136, 0.9453129954550592,
  ];
  const rm = zeros([3]);
  const rv = ones([3]);
  const w = tensor([1.5, -0.5, 2.0]);
  const b = tensor([0.25, 0, -1]);
  const y = batchNorm(seq([6, 3, 2, 3], 0.37, 0.2, 2, 0.5), rm, rv, w, b, { training: true, groups: 2 });
  assertClose(await y.toArray(), want, 2e-6, 'split BN output');
  assertClose(await rm.toArray(), [0.16489622237410073, -0.06901380242563433, 0.07900390671321325], 1e-6, 'running mean, step 1');
  assertClose(await rv.toArray(), [0.9853427625799227, 0.9785799210157549, 1.072129591875928], 1e-6, 'running var, step 1');
  batchNorm(seq([6, 3, 2, 3], 0.53, 0.9, 1.5, 0, Math.cos), rm, rv, w, b, { training: true, groups: 2 });
  assertClose(await rm.toArray(), [0.1515805640659621, -0.06511637807325087, 0.0739330332294645], 1e-6, 'running mean, step 2');
  assertClose(await rv.toArray(), [0.9446971963949515, 0.9351780930789602, 1.0160471611455928], 1e-6, 'running var, step 2');
});

test('batchNorm groups=4 on [12, 5] matches PyTorch split BN (momentum 0.3)', async () => {
  // x = 3 * a(60, .71, .3).sin().reshape(12,5); w = [1.,2.,-1.,.5,.25]; b = [0.,1.,2.,-1.,.5]; rm = zeros(5); rv = ones(5)
  // y = split_bn(x, rm, rv, w, b, 4, momentum=0.3); print(y.flatten().tolist(), rm.tolist(), rv.tolist())
  const want = [
    0.04182525096793711, 2.874825553063433, 0.693065783539437, -0.30167029229333553, 0.645517793359516, -0.6571144080313366,
    -1.367805965969544, 3.405719113479472, -1.5551809032960042, 0.5585917680839818, 1.01339091423114, 3.6818375313112104,
    0.6378833283468998, -0.8220776220510454, 0.3076164704120763, -1.2321782983178537, -1.827680873593888, 2.952244723503996,
    -0.7980016267376528, 0.7700969914799386, 1.2032942550758723, 1.8966428822211598, 2.185557251110597, -1.4453452960775908,
    0.1481926910171964, -0.7559458163165599, 0.8440854241833566, 1.4311633980724, -0.343161469832224, 0.7726560047577907,
    0.3475740447704658, 0.43741271808459425, 3.010412266211678, -1.6816298431529, 0.339304196072136, 0.01500681660454561, 2.357699438338694,
    0.618385485776569, -0.5141462425561398, 0.5625256585761993, -1.2451195060438096, -1.7714684352845924, 3.121376965349966,
    -1.2529844116290738, 0.7062895156232877, 1.4130602243478965, 3.5237205417861874, 1.163117488448128, -1.1016576268717715,
    0.16875222715822735, -1.3609649590016055, -1.119250249395805, 2.351704405441422, -0.4962925347960548, 0.8530793335157876,
    1.2171714817133081, 2.4699814352551943, 2.4293697907194343, -1.6878521307062073, 0.16737734994386205,
  ];
  const rm = zeros([5]);
  const rv = ones([5]);
  const y = batchNorm(seq([12, 5], 0.71, 0.3, 3), rm, rv, tensor([1, 2, -1, 0.5, 0.25]), tensor([0, 1, 2, -1, 0.5]), {
    training: true,
    momentum: 0.3,
    groups: 4,
  });
  assertClose(await y.toArray(), want, 2e-6, 'split BN output');
  assertClose(
    await rm.toArray(),
    [0.040421446414845436, 0.04850055729596687, 0.03314050082026389, 0.0017644274506732616, -0.030464351797179826],
    1e-6,
    'running mean',
  );
  assertClose(
    await rv.toArray(),
    [2.7479122467719193, 3.064669824674518, 2.5117583005091597, 2.028877935531904, 2.4367076002175923],
    1e-6,
    'running var',
  );
});

// ---- running statistics: closed form ------------------------------------------------------------

test('batchNorm running stats after one and two steps: (1 − m)·running + m·(batch mean, unbiased var)', async () => {
  const shape = [5, 3, 2, 3];
  const rm0 = [0.5, -1, 2];
  const rv0 = [1, 2, 0.5];
  const rm = tensor(rm0);
  const rv = tensor(rv0);
  const batches = [randnSeeded(shape, 21).mul(1.7).add(0.4), randnSeeded(shape, 22).mul(0.6).add(-2)];
  let em = [...rm0];
  let ev = [...rv0];
  for (const [step, xb] of batches.entries()) {
    batchNorm(xb, rm, rv, null, null, { training: true, momentum: 0.25 });
    const s = R.batchStats(await host(xb));
    em = em.map((v, c) => 0.75 * v + 0.25 * s.mean.data[c]);
    ev = ev.map((v, c) => 0.75 * v + 0.25 * s.unbiasedVar.data[c]);
    assertClose(await rm.toArray(), em, 1e-6, `running mean after step ${step + 1}`);
    assertClose(await rv.toArray(), ev, 1e-6, `running var after step ${step + 1}`);
  }
  // The same update in grad mode; eval mode leaves them alone.
  const x = randnSeeded(shape, 23).requiresGrad_();
  const before = await rm.toArray();
  batchNorm(x, rm, rv, null, null, { training: false });
  assertClose(await rm.toArray(), before, 0, 'eval leaves running mean');
  batchNorm(x, rm, rv, null, null, { training: true, momentum: 0.25 }).sum().backward();
  const s = R.batchStats(await host(x));
  assertClose(
    await rm.toArray(),
    [...before].map((v, c) => 0.75 * v + 0.25 * s.mean.data[c]),
    1e-6,
    'running mean, grad mode',
  );
});

// ---- eval mode ------------------------------------------------------------------------------

test('batchNorm eval: running statistics, forward vs the reference and gradients', async () => {
  const x = randnSeeded([5, 3, 2, 3], 30);
  const rm = tensor([0.3, -0.2, 1.5]);
  const rv = tensor([0.8, 2.5, 0.1]);
  const w = tensor([1.5, -0.5, 2.0]);
  const b = tensor([0.25, 0, -1]);
  const want = R.batchNormEval(await host(x), await host(rm), await host(rv), await host(w), await host(b), 1e-5);
  const y = noGrad(() => batchNorm(x, rm, rv, w, b, { training: false }));
  assertClose(await y.toArray(), want.data, 1e-6, 'eval (fused, no grad)');
  const y2 = batchNorm(x, rm, rv, null, null, { training: false, eps: 1e-3 });
  assertClose(
    await y2.toArray(),
    R.batchNormEval(await host(x), await host(rm), await host(rv), undefined, undefined, 1e-3).data,
    1e-6,
    'eval no affine',
  );
  const f = (xx: Tensor, ww: Tensor, bb: Tensor) => batchNorm(xx, rm, rv, ww, bb, { training: false });
  await checkForward(f, [x, w, b], 1e-5, 'eval (recorded)');
  await checkGrad(f, [x, w, b], {}, 'eval');
  // 1 value per channel is fine in eval mode.
  assert.equal((await batchNorm(tensor([[1, 2, 3]]), rm, rv, null, null, { training: false }).toArray()).length, 3);
});

test('batchNorm eval without grad on the vec4 and padded-plane paths (with and without affine) matches the float64 reference', async () => {
  // [2, 3, 8, 8]: contiguous planes of 64 (vec4 kernel); a conv2d output [1, 3, 12, 14]: a view of
  // planes padded to 12×16 (the kernel runs over the padded block); [2, 3, 2, 3]: generic.
  const { conv2d } = await import('../../src/ops/conv.ts');
  const inputs: [string, Tensor][] = [
    ['contiguous [2, 3, 8, 8]', randnSeeded([2, 3, 8, 8], 60)],
    [
      'conv2d output [1, 3, 12, 14]',
      noGrad(() => conv2d(randnSeeded([1, 2, 12, 14], 61), randnSeeded([3, 2, 3, 3], 62), null, { padding: 1 })),
    ],
    ['contiguous [2, 3, 2, 3]', randnSeeded([2, 3, 2, 3], 63)],
  ];
  const rm = tensor([0.3, -0.2, 1.5]);
  const rv = tensor([0.8, 2.5, 0.1]);
  const w = tensor([1.5, -0.5, 2.0]);
  const b = tensor([0.25, 0, -1]);
  for (const [what, x] of inputs) {
    const y = noGrad(() => batchNorm(x, rm, rv, w, b, { training: false }));
    assertClose(
      await y.toArray(),
      R.batchNormEval(await host(x), await host(rm), await host(rv), await host(w), await host(b), 1e-5).data,
      1e-6,
      `${what} affine`,
    );
    const y2 = noGrad(() => batchNorm(x, rm, rv, null, null, { training: false }));
    assertClose(
      await y2.toArray(),
      R.batchNormEval(await host(x), await host(rm), await host(rv), undefined, undefined, 1e-5).data,
      1e-6,
      `${what} no affine`,
    );
  }
});

// ---- long channels: partial sums -------------------------------------------------------------

test('batchNorm on [3, 2, 250, 300] (225k values per channel, offset mean) matches float64 statistics', async () => {
  const shape = [3, 2, 250, 300];
  const x = seq(shape, 0.0137, 0.2, 2, 5);
  const rm = zeros([2]);
  const rv = zeros([2]);
  const y = batchNorm(x, rm, rv, null, null, { training: true, momentum: 1 });
  const s = R.batchStats(await host(x));
  assertClose(await rm.toArray(), s.mean.data, 1e-5, 'batch mean');
  assertClose(await rv.toArray(), s.unbiasedVar.data, 1e-5, 'batch unbiased var');
  const yr = R.batchNorm(await host(x), undefined, undefined, {});
  assertClose(await y.toArray(), yr.data, 1e-4, 'normalised values');
});

// ---- errors -------------------------------------------------------------------------------------

test('batchNorm errors: 1 value per channel (per group) when training, indivisible groups, bad shapes', () => {
  const c3 = randnSeeded([4, 3]);
  assert.throws(
    () => batchNorm(randnSeeded([1, 3]), null, null, null, null, { training: true }),
    /expected more than 1 value per channel when training, got input of shape \[1, 3\]/,
  );
  assert.throws(
    () => batchNorm(c3, null, null, null, null, { training: true, groups: 4 }),
    /more than 1 value per channel when training.*\[4, 3\] with groups=4/,
  );
  assert.throws(
    () => batchNorm(randnSeeded([4, 3, 1, 1]), zeros([3]), ones([3]), null, null, { training: true, groups: 4 }),
    /more than 1 value per channel.*\[4, 3, 1, 1\]/,
  );
  assert.throws(
    () => batchNorm(c3, null, null, null, null, { training: true, groups: 3 }),
    /batch size 4 of input \[4, 3\] is not divisible into groups=3/,
  );
  assert.throws(() => batchNorm(c3, null, null, ones([4]), null, { training: true }), /weight has shape \[4\], expected \[3\]/);
  assert.throws(() => batchNorm(randnSeeded([4]), null, null, null, null, { training: true }), /must be \[N, C\]/);
  assert.throws(() => batchNorm(c3, zeros([3]), null, null, null, { training: true }), /both runningMean and runningVar/);
});

// ---- normalize --------------------------------------------------------------------------------

test('normalize: forward and gradient along dims 1, 0 and -1', async () => {
  const x = randnSeeded([4, 7, 3], 40);
  for (const dim of [1, 0, -1]) {
    await checkForward((a) => normalize(a, dim), [x], 1e-5, `normalize dim ${dim}`);
    await checkGrad((a) => normalize(a, dim), [x], {}, `normalize dim ${dim}`);
  }
  await checkGrad((a) => normalize(a.transpose(0, 1)), [randnSeeded([5, 6], 41)], {}, 'normalize transposed');
});

test('normalize: unit rows, a zero row stays zero (eps path), torch values', async () => {
  // torch: F.normalize(torch.tensor([[3.,4.],[0.,0.],[1e-13, 0.]]), dim=1) → [[0.6,0.8],[0,0],[0.1,0]]
  const x = tensor([
    [3, 4],
    [0, 0],
    [1e-13, 0],
  ]);
  assertClose(await normalize(x).toArray(), [0.6, 0.8, 0, 0, 0.1, 0], 1e-6, 'normalize');
  await checkForward((a) => normalize(a, 1), [x], 1e-6, 'normalize zero row');
  // Gradient at the zero row: the norm is clamped to eps, so d/dx = g/eps (as PyTorch):
  // x = torch.tensor([[3.,4.],[0.,0.]], requires_grad=True); (F.normalize(x, dim=1, eps=1e-3) * torch.tensor([[1.,2.],[3.,-4.]])).sum().backward()
  // x.grad → [[-0.064, 0.048], [3000., -4000.]]
  const xs = tensor([
    [3, 4],
    [0, 0],
  ]).requiresGrad_();
  normalize(xs, 1, 1e-3)
    .mul(
      tensor([
        [1, 2],
        [3, -4],
      ]),
    )
    .sum()
    .backward();
  const gx = await xs.grad!.toArray();
  assertClose(gx.slice(0, 2), [-0.064, 0.048], 1e-6, 'normalize grad, unit row');
  assertClose(gx.slice(2), [3000, -4000], 1e-6, 'normalize grad, zero row');
  const rows = await normalize(randnSeeded([6, 9], 42), 1)
    .square()
    .sum(1)
    .toArray();
  assertClose(rows, new Array(6).fill(1), 1e-6, 'unit rows');
});

// ---- fused batch norm + ReLU and the vec4 fast path --------------------------------------------

/** Output and gradients (x, weight, bias) of sum(fn(x, w, b) · r), r fixed random weights. */
async function outAndGrads(fn: (x: Tensor, w: Tensor, b: Tensor) => Tensor, x0: Tensor, w0: Tensor, b0: Tensor): Promise<number[][]> {
  const x = x0.detach().requiresGrad_();
  const w = w0.detach().requiresGrad_();
  const b = b0.detach().requiresGrad_();
  const y = fn(x, w, b);
  y.mul(randnSeeded([...y.shape], 99))
    .sum()
    .backward();
  return [await y.toArray(), await x.grad!.toArray(), await w.grad!.toArray(), await b.grad!.toArray()].map((a) => [...a]);
}

// x shapes: H·W % 16 = 0 (4 vec4s per thread), % 8 (2), % 4 (1), not % 4 (generic kernel), 2-D, 3-D,
// and planes of ≥ 128 elements (generic kernel with a workgroup per plane when permuted).
const FUSED_SHAPES = [
  [8, 3, 4, 4],
  [8, 3, 2, 4],
  [8, 3, 2, 6],
  [8, 3, 3, 5],
  [8, 5],
  [8, 3, 12],
  [4, 3, 8, 20],
];
// Views: contiguous; permuted (NHWC strides: generic kernel); a batch slice of a larger tensor (offset).
const scaled = (s: number[], seed: number) => randnSeeded(s, seed).mul(1.5).add(0.3);
const VIEWS: [string, (s: number[], seed: number) => Tensor][] = [
  ['contiguous', (s, seed) => scaled(s, seed)],
  ['permuted', (s, seed) => scaled([s[0], ...s.slice(2), s[1]], seed).permute(0, s.length - 1, ...s.slice(2).map((_, i) => i + 1))],
  ['offset', (s, seed) => scaled([s[0] + 1, ...s.slice(1)], seed).slice(0, 1)],
];

for (const shape of FUSED_SHAPES) {
  for (const [view, make] of VIEWS) {
    test(`batchNorm activation 'relu' on ${view} ${JSON.stringify(shape)}: output and gradients of x, weight, bias equal batchNorm → relu`, async () => {
      const c = shape[1];
      const x = make(shape, 40);
      assert.equal([...x.shape], shape);
      assert.is(x.isContiguous, view !== 'permuted' || shape.length === 2);
      assert.is(x.offset > 0, view === 'offset');
      const w = randnSeeded([c], 41);
      const b = randnSeeded([c], 42).mul(0.5);
      for (const groups of [1, 4]) {
        for (const training of [true, false]) {
          const stats = () => [
            tensor(Array.from({ length: c }, (_, i) => 0.2 * i - 0.1)),
            tensor(Array.from({ length: c }, (_, i) => 0.5 + i)),
          ];
          const [rm1, rv1] = stats();
          const [rm2, rv2] = stats();
          const opts = { training, groups: training ? groups : 1 };
          const fused = await outAndGrads((xx, ww, bb) => batchNorm(xx, rm1, rv1, ww, bb, { ...opts, activation: 'relu' }), x, w, b);
          const eager = await outAndGrads((xx, ww, bb) => batchNorm(xx, rm2, rv2, ww, bb, opts).relu(), x, w, b);
          const what = `groups=${groups} ${training ? 'training' : 'eval'}`;
          assert.ok(fused[0].some((v) => v === 0) && fused[0].some((v) => v > 0), `${what}: the ReLU clips some outputs and keeps others`);
          ['output', 'dx', 'dweight', 'dbias'].forEach((name, k) => assertClose(fused[k], eager[k], 1e-5, `${what} ${name}`));
          assertClose(await rm1.toArray(), await rm2.toArray(), 1e-6, `${what} running mean`);
          assertClose(await rv1.toArray(), await rv2.toArray(), 1e-6, `${what} running var`);
          // Eval without grad takes the fused map path.
          if (!training) {
            const y = noGrad(() => batchNorm(x, rm1, rv1, w, b, { ...opts, activation: 'relu' }));
            assertClose(await y.toArray(), eager[0], 1e-5, `${what} no-grad output`);
          }
        }
      }
    });
  }
}

test("batchNorm activation 'relu': forward vs the float64 reference and gradcheck (groups 1 and 2, vec4 and generic kernels)", async () => {
  for (const [shape, groups] of [
    [[4, 3, 2, 2], 1],
    [[4, 3, 2, 2], 2],
    [[6, 2, 3, 3], 2],
    [[6, 4], 3],
  ] as [number[], number][]) {
    const c = shape[1];
    const x = randnSeeded(shape, 50).add(0.2);
    const f = (xx: Tensor, ww: Tensor, bb: Tensor) => batchNorm(xx, null, null, ww, bb, { training: true, groups, activation: 'relu' });
    await checkForward(f, [x, randnSeeded([c], 51), randnSeeded([c], 52)], 1e-5, `relu ${JSON.stringify(shape)} groups=${groups}`);
    // Two samples per group ([6, 4], groups 3) normalise to ±1 whatever x is: the input gradient is the
    // eps-sized remainder of O(1) terms that cancel, so it carries their float32 rounding (~5e-6) as is.
    const tol = shape[0] / groups === 2 ? { atol: 5e-5 } : {};
    await checkGrad(f, [x, randnSeeded([c], 51), randnSeeded([c], 52)], tol, `relu ${JSON.stringify(shape)} groups=${groups}`);
  }
  // The reference applies the attribute: relu of the plain reference op.
  const hx = await host(randnSeeded([4, 2, 3], 53));
  const plain = R.referenceOps.batchNorm([hx], { groups: 2 });
  const fused = R.referenceOps.batchNorm([hx], { groups: 2, activation: 'relu' });
  assertClose(
    fused.data,
    plain.data.map((v) => Math.max(v, 0)),
    0,
    'reference relu',
  );
  assert.throws(
    () => batchNorm(randnSeeded([4, 2]), null, null, null, null, { training: true, activation: 'gelu' as 'relu' }),
    /unknown activation 'gelu'/,
  );
});

test('batchNorm apply: the vec4 kernel equals the generic strided kernel, per plane and per element (forward, backward, relu masks)', async () => {
  // [4, 3, 12, 12] and [2, 2, 2, 70] (W > 64) have planes of ≥ 128 elements (a workgroup per plane).
  for (const [shape, groups] of [
    [[8, 3, 4, 4], 4],
    [[8, 3, 2, 6], 2],
    [[6, 5, 8], 3],
    [[4, 3, 12, 12], 2],
    [[2, 2, 2, 70], 2],
  ] as [number[], number][]) {
    const n = shape[0],
      c = shape[1];
    const x = randnSeeded(shape, 60);
    const g = randnSeeded(shape, 61);
    // Coefficients [(groups·C + C), 4]: arbitrary values exercise every pair and column.
    const coef = randnSeeded([groups * c + c, 4], 62);
    const saved = randnSeeded([groups * c + c, 4], 63);
    for (const [gg, relu] of [
      [null, false],
      [null, true],
      [g, false],
      [g, true],
    ] as [Tensor | null, boolean][]) {
      const fast = await applyCoefficients(x, gg, coef, saved, groups, relu).toArray();
      const slow = await applyCoefficients(x, gg, coef, saved, groups, relu, true).toArray();
      const each = await applyCoefficients(x, gg, coef, saved, groups, relu, 'elements').toArray();
      assertClose(fast, slow, 1e-6, `${JSON.stringify(shape)} ${gg ? 'backward' : 'forward'} relu=${relu}`);
      assertClose(each, slow, 1e-6, `${JSON.stringify(shape)} ${gg ? 'backward' : 'forward'} relu=${relu}, per element`);
      // Spot-check one element against the formula (pair of sample n − 1, channel c − 1, last position).
      const hw = x.size / (n * c);
      const i = x.size - 1,
        pair = ((n - 1) % groups) * c + (c - 1);
      const [xa, ga, ca, sa] = [await x.toArray(), await g.toArray(), await coef.toArray(), await saved.toArray()];
      const k = 4 * pair;
      let want: number;
      if (gg) {
        const gv = relu && !(xa[i] * sa[k] + sa[k + 1] > 0) ? 0 : ga[i];
        want = gv * ca[k] + xa[i] * ca[k + 1] + ca[k + 2];
      } else {
        const y = xa[i] * ca[k] + ca[k + 1];
        want = relu ? Math.max(y, 0) : y;
      }
      assert.ok(Math.abs(fast[i] - want) < 1e-5, `element ${i} (hw ${hw}): ${fast[i]} vs ${want}`);
    }
  }
});
/**
 * float64 coefficients in kernels/batchnorm_finish.wgsl's layout (sample s in group s mod groups): per (group, channel) pair
 * forward (w·istd, b − mean·w·istd, mean, istd) and backward (A, B, −A/R·Σg − mean·B, 0) with
 * A = w·istd, B = −A/R·istd²·Σg(x − mean); then per channel forward (mean of the group means, mean
 * of the unbiased variances, 0, 0) and backward (Σ istd·Σg(x − mean), Σg, 0, 0).
 */
async function float64Coefficients(
  x: Tensor,
  g: Tensor,
  w: Tensor,
  b: Tensor,
  groups: number,
): Promise<{ forward: number[]; backward: number[] }> {
  const [hx, hg, hw, hb] = await Promise.all([x, g, w, b].map(async (t) => Array.from(await t.toArray())));
  const [n, c] = x.shape;
  const spatial = x.size / (n * c);
  const forward: number[] = [];
  const backward: number[] = [];
  const channel = Array.from({ length: c }, () => [0, 0, 0, 0]);
  for (let grp = 0; grp < groups; grp++) {
    for (let ch = 0; ch < c; ch++) {
      const idx: number[] = [];
      for (let s = grp; s < n; s += groups) for (let k = 0; k < spatial; k++) idx.push((s * c + ch) * spatial + k);
      const R = idx.length;
      const mean = idx.reduce((a, i) => a + hx[i], 0) / R;
      const ss = idx.reduce((a, i) => a + (hx[i] - mean) ** 2, 0);
      const istd = 1 / Math.sqrt(ss / R + 1e-5);
      const sg = idx.reduce((a, i) => a + hg[i], 0);
      const sgx = idx.reduce((a, i) => a + hg[i] * (hx[i] - mean), 0);
      const A = hw[ch] * istd;
      const B = (-A / R) * istd * istd * sgx;
      forward.push(A, hb[ch] - mean * A, mean, istd);
      backward.push(A, B, (-A / R) * sg - mean * B, 0);
      channel[ch][0] += mean / groups;
      channel[ch][1] += ss / (R - 1) / groups;
      channel[ch][2] += istd * sgx;
      channel[ch][3] += sg;
    }
  }
  for (const [m, v] of channel) forward.push(m, v, 0, 0);
  for (const [, , gw, gb] of channel) backward.push(gw, gb, 0, 0);
  return { forward, backward };
}

test('batchNorm statistics: the vec4 kernel equals the strided kernel (forward, backward, relu masks, offsets)', async () => {
  // [3, 2, 40, 52]: 520 vec4s per (group, channel) with groups 1, in several runs that cross planes.
  for (const [shape, groups] of [
    [[8, 3, 4, 4], 4],
    [[6, 2, 2, 6], 2],
    [[3, 2, 40, 52], 1],
    [[6, 5, 8], 3],
  ] as [number[], number][]) {
    const c = shape[1];
    const big = randnSeeded([shape[0] + 1, ...shape.slice(1)], 70)
      .mul(2)
      .add(3);
    const x = big.slice(0, 1); // offset: one sample
    const g = randnSeeded(shape, 71);
    const w = randnSeeded([c], 72);
    const b = randnSeeded([c], 73);
    const fwdFast = coefficients('forward', x, null, null, w, b, groups, 1e-5);
    const fwdSlow = coefficients('forward', x, null, null, w, b, groups, 1e-5, false, true);
    assertClose(await fwdFast.toArray(), await fwdSlow.toArray(), 1e-5, `${JSON.stringify(shape)} forward coefficients`);
    for (const relu of [false, true]) {
      const fast = await coefficients('backward', x, g, fwdSlow, w, null, groups, 1e-5, relu).toArray();
      const slow = await coefficients('backward', x, g, fwdSlow, w, null, groups, 1e-5, relu, true).toArray();
      assertClose(fast, slow, 1e-5, `${JSON.stringify(shape)} backward coefficients relu=${relu}`);
    }
    // Every forward and backward coefficient of the fast kernels against float64.
    const want = await float64Coefficients(x, g, w, b, groups);
    assertClose(await fwdFast.toArray(), want.forward, 1e-5, `${JSON.stringify(shape)} forward coefficients vs float64`);
    const bwdFast = await coefficients('backward', x, g, fwdFast, w, null, groups, 1e-5).toArray();
    assertClose(bwdFast, want.backward, 1e-5, `${JSON.stringify(shape)} backward coefficients vs float64`);
  }
});

test('batchNorm statistics on padded crop views: the vec4 kernel over whole padded planes (their padding NaN) equals the strided kernel', async () => {
  const cases: [number[], [number, number], number][] = [
    [[4, 3, 12, 11], [16, 12], 2],
    [[8, 2, 7, 7], [8, 8], 4],
    [[2, 2, 5, 3], [6, 4], 1],
  ];
  for (const [[n, c, h, w], [hp, wp], groups] of cases) {
    // The crop of a block whose padding holds NaN: lanes outside the crop must add nothing.
    const block = async (seed: number) => {
      const v = await randnSeeded([n, c, hp, wp], seed).mul(2).add(1).toArray();
      for (let i = 0; i < v.length; i++) if (Math.floor(i / wp) % hp >= h || i % wp >= w) v[i] = NaN;
      return tensor(v, [n, c, hp, wp]).slice(2, 0, h).slice(3, 0, w);
    };
    const [x, g] = [await block(90), await block(91)];
    const [wt, b] = [randnSeeded([c], 92), randnSeeded([c], 93)];
    const what = `[${n}, ${c}, ${h}, ${w}] in ${hp}×${wp}, groups ${groups}`;
    const fwdFast = coefficients('forward', x, null, null, wt, b, groups, 1e-5);
    const fwdSlow = coefficients('forward', x, null, null, wt, b, groups, 1e-5, false, true);
    assertClose(await fwdFast.toArray(), await fwdSlow.toArray(), 1e-5, `${what} forward coefficients`);
    for (const relu of [false, true]) {
      const fast = await coefficients('backward', x, g, fwdSlow, wt, null, groups, 1e-5, relu).toArray();
      const slow = await coefficients('backward', x, g, fwdSlow, wt, null, groups, 1e-5, relu, true).toArray();
      assert.ok(fast.every(Number.isFinite), `${what}: no NaN from the padding`);
      assertClose(fast, slow, 1e-5, `${what} backward coefficients relu=${relu}`);
    }
  }
});

test('batchNorm on padded crop views (as conv2d returns): vec4 over the padded block, same values as the strided kernel', async () => {
  // x and g: the [4, 3, 12, 11] top-left crops of contiguous [4, 3, 16, 12] blocks (planes of
  // ≥ 128 elements take the padded path; smaller ones the strided kernel).
  const crop = (t: Tensor) => t.slice(2, 0, 12).slice(3, 0, 11);
  const x = crop(randnSeeded([4, 3, 16, 12], 80).mul(2).add(1));
  const g = crop(randnSeeded([4, 3, 16, 12], 81));
  const coef = randnSeeded([2 * 3 + 3, 4], 82);
  const saved = randnSeeded([2 * 3 + 3, 4], 83);
  for (const [gg, relu] of [
    [null, false],
    [null, true],
    [g, false],
    [g, true],
  ] as [Tensor | null, boolean][]) {
    const fast = applyCoefficients(x, gg, coef, saved, 2, relu);
    assert.equal([...fast.strides], [576, 192, 12, 1], 'the padded path keeps the layout');
    const slow = applyCoefficients(x, gg, coef, saved, 2, relu, true);
    assert.ok(slow.isContiguous);
    assertClose(await fast.toArray(), await slow.toArray(), 1e-6, `${gg ? 'backward' : 'forward'} relu=${relu}`);
  }
  // g with another layout (contiguous): the strided kernel, contiguous output.
  assert.ok(applyCoefficients(x, g.contiguous(), coef, saved, 2, true).isContiguous);
  const small = randnSeeded([4, 3, 8, 8], 85).slice(2, 0, 7).slice(3, 0, 7);
  assert.ok(applyCoefficients(small, null, coef, saved, 2, true).isContiguous, '7×7 planes: strided kernel');
  // The op on a padded view vs the float64 reference, and its gradients.
  const f = (xx: Tensor, ww: Tensor) => batchNorm(xx, null, null, ww, null, { training: true, groups: 2, activation: 'relu' });
  await checkForward(f, [x, randnSeeded([3], 84)], 1e-5, 'padded view');
  await checkGrad((xx, ww) => f(xx, ww).mul(xx), [x, randnSeeded([3], 84)], {}, 'padded view');
});

test.run();
