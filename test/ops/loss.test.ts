// crossEntropy / nllLoss: forward vs the float64 reference and gradients vs finite differences,
// label smoothing, reductions, loss and gradient values from PyTorch, target validation.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tensor, tensor, crossEntropy, nllLoss, logSoftmax } from '../../src/index.ts';
import { setup, checkForward, checkGrad, randnSeeded, nonContiguous, assertClose } from '../helpers.ts';

test.before(setup);

const TARGETS = [1, 0, 6, 2, 3];

// PyTorch (torch 1.13, float64), /usr/bin/python3:
//   import torch, torch.nn.functional as F; a = lambda n, s, o: torch.arange(n, dtype=torch.float64) * s + o
//   l = (3 * a(35, .61, .3).sin()).reshape(5,7).requires_grad_(); y = torch.tensor([1, 0, 6, 2, 3])
//   for eps in [0.0, 0.2]: loss = F.cross_entropy(l, y, label_smoothing=eps); print(loss.item(), torch.autograd.grad(loss, l)[0].flatten().tolist())
//   print(F.cross_entropy(l, y, reduction='sum', label_smoothing=0.1).item(), F.cross_entropy(l, y, reduction='none', label_smoothing=0.1).tolist())
const TORCH = {
  0: {
    loss: 2.8473606998911043,
    grad: [
      0.00976283560051028, -0.15702865534596838, 0.08049158968553252, 0.05116500444857432, 0.0129964547376338, 0.0021626111472243035,
      0.00045015972649316326, -0.1997662821415969, 0.00031287727828279615, 0.00110042536394091, 0.006460110386527669, 0.0334307699028238,
      0.08428902443069666, 0.07417307477932507, 0.14117696880468408, 0.024985942084456918, 0.004544431665980465, 0.0015707761499833082,
      0.0015136176294968371, 0.004120898049342781, -0.1779126343839444, 0.019173806711127353, 0.06308795744996337, -0.12281507306440476,
      0.03264929502284147, 0.006512542491068226, 0.0010957210622232815, 0.00029575032718103986, 0.0002152344014918088,
      0.00043865275419582167, 0.0020292983794416744, -0.18773584815230177, 0.05060351805476494, 0.08549616105943215, 0.04895298350297534,
    ],
  },
  0.2: {
    loss: 2.9241229668754944,
    grad: [
      0.004048549886224566, -0.1227429410602541, 0.07477730397124682, 0.04545071873428861, 0.007282169023348088, -0.003551674567061411,
      -0.0052641259877925515, -0.1654805678558826, -0.005401408436002919, -0.004613860350344805, 0.0007458246722419552, 0.02771648418853809,
      0.07857473871641096, 0.06845878906503937, 0.13546268309039838, 0.019271656370171204, -0.0011698540483052497, -0.004143509564302407,
      -0.004200668084788878, -0.0015933876649429331, -0.1436269200982301, 0.013459520996841641, 0.05737367173567767, -0.08852935877869046,
      0.026935009308555753, 0.0007982567767825114, -0.004618564652062434, -0.005418535387104675, -0.005499051312793907,
      -0.005275632960089894, -0.0036849873348440408, -0.15345013386658748, 0.04488923234047923, 0.07978187534514644, 0.04323869778868963,
    ],
  },
};

function logits(): Tensor {
  return tensor(
    Array.from({ length: 35 }, (_, i) => 3 * Math.sin(0.61 * i + 0.3)),
    [5, 7],
  );
}

for (const eps of [0, 0.2] as const) {
  test(`crossEntropy labelSmoothing=${eps}: loss and gradient match PyTorch`, async () => {
    const x = logits().requiresGrad_();
    const loss = crossEntropy(x, TARGETS, { labelSmoothing: eps });
    assert.equal(loss.shape, []);
    loss.backward();
    assertClose([await loss.item()], [TORCH[eps].loss], 1e-6, 'loss');
    assertClose(await x.grad!.toArray(), TORCH[eps].grad, 1e-6, 'gradient');
  });
}

test('crossEntropy vs the reference and finite differences: host targets, tensor targets, smoothing, transposed logits', async () => {
  const x = randnSeeded([6, 11], 50).mul(2);
  const t = [3, 0, 10, 5, 5, 7];
  for (const labelSmoothing of [0, 0.1, 1]) {
    const f = (a: Tensor) => crossEntropy(a, t, { labelSmoothing });
    await checkForward(f, [x], 1e-5, `crossEntropy ε=${labelSmoothing}`);
    await checkGrad(f, [x], {}, `crossEntropy ε=${labelSmoothing}`);
  }
  const tt = tensor(t, undefined, { dtype: 'int32' });
  await checkForward((a) => crossEntropy(a, tt, { labelSmoothing: 0.3 }), [x], 1e-5, 'tensor targets');
  await checkGrad((a) => crossEntropy(a.mul(a), tt), [x], {}, 'tensor targets, composed');
  const xt = nonContiguous([6, 9], 51); // [6, 9] view of a [9, 6] tensor
  await checkForward((a) => crossEntropy(a, [0, 8, 1, 2, 3, 4], { labelSmoothing: 0.05 }), [xt], 1e-5, 'transposed');
  await checkGrad((a) => crossEntropy(a, [0, 8, 1, 2, 3, 4], { labelSmoothing: 0.05 }), [xt], {}, 'transposed');
});

test('crossEntropy with large logits stays finite; Int32Array targets', async () => {
  const x = tensor([
    [1000, 0, -1000],
    [500, 510, 505],
  ]);
  const loss = await crossEntropy(x, Int32Array.from([0, 2])).item();
  // row 0: ≈ 0; row 1: lse − 505 = 5 + log(1 + e^−10 + e^−5)
  const want = (0 + 5 + Math.log(1 + Math.exp(-10) + Math.exp(-5))) / 2;
  assertClose([loss], [want], 1e-6, 'large logits');
});

test('crossEntropy reductions sum and none match PyTorch; none has gradients', async () => {
  const x = logits();
  assertClose([await crossEntropy(x, TARGETS, { labelSmoothing: 0.1, reduction: 'sum' }).item()], [14.428709166916496], 1e-6, 'sum');
  const none = crossEntropy(x, TARGETS, { labelSmoothing: 0.1, reduction: 'none' });
  assert.equal(none.shape, [5]);
  assertClose(
    await none.toArray(),
    [1.672406296436676, 6.440938386614757, 2.2976781953110272, 1.162776374863855, 2.8549099136901823],
    1e-6,
    'none',
  );
  await checkForward((a) => crossEntropy(a, TARGETS, { labelSmoothing: 0.1, reduction: 'none' }), [x], 1e-5, 'none');
  await checkGrad((a) => crossEntropy(a, TARGETS, { labelSmoothing: 0.1, reduction: 'none' }), [x], {}, 'none');
  await checkGrad((a) => crossEntropy(a, TARGETS, { reduction: 'sum' }), [x], {}, 'sum');
});

test('nllLoss of logSoftmax equals crossEntropy (PyTorch 2.8473606998911043); forward, gradient, none', async () => {
  const x = logits();
  assertClose([await nllLoss(logSoftmax(x, 1), TARGETS).item()], [2.8473606998911043], 1e-6, 'nll');
  const lp = randnSeeded([4, 6], 52);
  await checkForward((a) => nllLoss(a, [5, 0, 2, 2]), [lp], 1e-6, 'nllLoss');
  await checkGrad((a) => nllLoss(logSoftmax(a, 1), [5, 0, 2, 2]), [lp], {}, 'nllLoss');
  assertClose(
    await nllLoss(
      tensor([
        [-1, -2],
        [-3, -0.5],
      ]),
      [1, 0],
      { reduction: 'none' },
    ).toArray(),
    [2, 3],
    1e-7,
    'nll none',
  );
  assertClose(
    [
      await nllLoss(
        tensor([
          [-1, -2],
          [-3, -0.5],
        ]),
        [1, 0],
        { reduction: 'sum' },
      ).item(),
    ],
    [5],
    1e-7,
    'nll sum',
  );
});

test('out-of-range, non-integer or misshaped targets are rejected; tensor targets out of range give NaN', async () => {
  const x = randnSeeded([3, 4]);
  assert.throws(() => crossEntropy(x, [0, 4, 1]), /crossEntropy: target 4 at position 1 is out of range for 4 classes/);
  assert.throws(() => crossEntropy(x, [0, -1, 1]), /target -1 at position 1/);
  assert.throws(() => nllLoss(x, [0, 1.5, 1]), /nllLoss: target 1.5/);
  assert.throws(() => crossEntropy(x, [0, 1]), /2 targets for input \[3, 4\]/);
  assert.throws(() => crossEntropy(x, tensor([[0, 1, 2]], undefined, { dtype: 'int32' })), /targets have shape \[1, 3\], expected \[3\]/);
  assert.throws(() => crossEntropy(randnSeeded([3]), [0]), /input must be \[N, C\]/);
  assert.throws(() => crossEntropy(x, [0, 1, 2], { labelSmoothing: 1.5 }), /labelSmoothing must be in \[0, 1\]/);
  assert.ok(
    Number.isNaN(await crossEntropy(x, tensor([0, 7, 1], undefined, { dtype: 'int32' })).item()),
    'device-side out-of-range target → NaN',
  );
  // Float target tensors are refused (a float label could be 1.5, or lose integers above 2^24).
  assert.throws(() => crossEntropy(x, tensor([0, 1, 2])), /crossEntropy: target tensors must be int32 class indices, got float32/);
  assert.throws(() => nllLoss(x, tensor([0, 1, 2])), /nllLoss: target tensors must be int32/);
  assert.throws(
    () => crossEntropy(tensor([[1, 2]], undefined, { dtype: 'int32' }), [0]),
    /crossEntropy: input scores must be float32, got int32/,
  );
});

test.run();
