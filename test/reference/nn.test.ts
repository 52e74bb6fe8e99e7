import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as R from '../../src/reference/index.ts';
import { close, seq, t, throwsWith } from './helpers.ts';

test('softmax: rows sum to 1, shift invariant, matches exp/Σexp', () => {
  const x = seq([3, 4], 0.9, 0.3, Math.sin, 3);
  const s = R.softmax(x, { dim: 1 });
  close(R.sum(s, { dims: [1], keepdim: false }), [1, 1, 1], [3]);
  const e = R.exp(x);
  close(s, R.div(e, R.sum(e, { dims: [1], keepdim: true })).data, [3, 4]);
  close(R.softmax(R.addScalar(x, { value: 1000 }), { dim: 1 }), s.data, [3, 4], 1e-10);
  close(R.softmax(t([0, Math.log(3)], [2]), { dim: -1 }), [0.25, 0.75], [2]);
  const x3 = seq([2, 3, 2], 0.5, 0);
  close(R.sum(R.softmax(x3, { dim: 0 }), { dims: [0], keepdim: false }), [1, 1, 1, 1, 1, 1], [3, 2]);
});

test('logSoftmax = log(softmax) and stays finite for large inputs', () => {
  const x = seq([3, 4], 0.9, 0.3, Math.sin, 3);
  close(R.logSoftmax(x, { dim: 1 }), R.log(R.softmax(x, { dim: 1 })).data, [3, 4]);
  close(R.logSoftmax(t([1000, 0], [2]), { dim: 0 }), [0, -1000], [2]);
});

test('batchNorm output has per-channel mean 0 and variance var/(var+eps)', () => {
  const x = seq([4, 3, 2, 2], 0.29, 0.5, Math.sin, 2);
  const eps = 1e-5;
  const y = R.batchNorm(x, undefined, undefined, { eps });
  const { var: v } = R.batchStats(x);
  close(R.mean(y, { dims: [0, 2, 3], keepdim: false }), [0, 0, 0], [3]);
  close(
    R.variance(y, { dims: [0, 2, 3], keepdim: false, correction: 0 }),
    [...v.data].map((s) => s / (s + eps)),
    [3],
  );
});

test('batchNorm matches PyTorch (training mode, [N,C,H,W] and [N,C])', () => {
  const w = t([1.5, -0.5, 2.0], [3]);
  const b = t([0.25, 0, -1], [3]);
  // Expected from torch 1.13 (float64):
  // /usr/bin/python3 -c "import torch, torch.nn.functional as F; a = lambda n, s, o: torch.arange(n, dtype=torch.float64) * s + o;
  //   w = torch.tensor([1.5,-.5,2.], dtype=torch.float64); b = torch.tensor([.25,0.,-1.], dtype=torch.float64);
  //   print(F.batch_norm(2 * a(48, .29, .5).sin().reshape(4,3,2,2), None, None, w, b, training=True, eps=1e-5).flatten().tolist());
  //   print(F.batch_norm(2 * a(12, .83, .4).sin().reshape(4,3), None, None, w, b, training=True, eps=1e-3).flatten().tolist())"
  const expected4d = [
    1.0944208219178972, 1.485453884619696, 1.776034169534721, 1.9418946635620367, -0.7390570538766269, -0.6818736108220541,
    -0.5585407344906931, -0.37935823075748254, -0.3799135835210639, -1.2911929988435211, -2.2109222394482346, -3.0622926480045978,
    -0.9765095806938244, -1.2476977812493384, -1.3910871171862131, -1.3947028225813851, 0.8861103370881022, 0.7525996768621933,
    0.5654423595645648, 0.34026831367479543, -1.3385154277582416, -0.4249324242430204, 0.4078573852070225, 1.0903058506815817,
    1.8461884116953609, 1.9667706550489334, 1.9467042746479928, 1.7876650590486018, -0.5042777391082554, -0.30958408296303996,
    -0.07983172928223799, 0.1657921861710606, -2.5064410518279128, -3.318699190842169, -3.970085553234939, -4.406201398931409,
    -1.4080962736644589, -1.364394819257226, -1.183148868138639, -0.8794946773041554, 0.49361818788034073, 0.259825793357809,
    0.013539397010957618, -0.22467307030943384, 0.6555333004472675, 1.2743314828998955, 1.6704271208004682, 1.8107413766188731,
  ];
  const expected2d = [
    0.6615800876301517, -0.5903717282393928, 1.068246656552818, 0.33342878290812605, 0.6726632705044164, -3.997204749952837,
    -2.082650396393186, 0.2710080806026372, 0.5369287605569963, 2.087641525854908, -0.35329962286766087, -1.607970667156977,
  ];
  const x4 = seq([4, 3, 2, 2], 0.29, 0.5, Math.sin, 2);
  close(R.batchNorm(x4, w, b, { eps: 1e-5 }), expected4d, [4, 3, 2, 2], 1e-12);
  close(R.batchNorm(seq([4, 3], 0.83, 0.4, Math.sin, 2), w, b, { eps: 1e-3 }), expected2d, [4, 3], 1e-12);
  // batchStats gives what PyTorch's running stats take in with momentum 1 (mean, unbiased var):
  // same x4, rm = zeros(3), rv = ones(3); F.batch_norm(x4, rm, rv, w, b, training=True, momentum=1.0); print(rm, rv)
  const stats = R.batchStats(x4);
  close(stats.mean, [-0.03850799745919843, 0.25852782820363535, 0.24498875996573002], [1, 3]);
  close(stats.unbiasedVar, [3.3480742270714012, 1.4671260587553374, 1.6633304526336805], [1, 3]);
  close(
    stats.var,
    [...stats.unbiasedVar.data].map((v) => (v * 15) / 16),
    [1, 3],
  );
});

test('batchNorm with groups normalises each interleaved group (n % groups) separately, as MoCo SplitBatchNorm', () => {
  const x = seq([6, 2, 2, 2], 0.77, 0.1, Math.sin, 3);
  const w = t([2, -1], [2]);
  const b = t([0.5, 1], [2]);
  const y = R.batchNorm(x, w, b, { eps: 1e-5, groups: 3 });
  // Group g = samples g, g + 3: normalising that slice alone gives the same rows.
  for (let g = 0; g < 3; g++) {
    const rows = (r: R.RefTensor) => R.slice(r, { dim: 0, start: g, end: 6, step: 3 });
    close(rows(y), R.batchNorm(rows(x), w, b, { eps: 1e-5 }).data, [2, 2, 2, 2]);
  }
  // PyTorch, the split-BN formulation (F.batch_norm on x.view(-1, C * groups, H, W)):
  // /usr/bin/python3 -c "import torch, torch.nn.functional as F; a = lambda n, s, o: torch.arange(n, dtype=torch.float64) * s + o;
  //   x = 3 * a(48, .77, .1).sin().reshape(6,2,2,2); w = torch.tensor([2.,-1.], dtype=torch.float64); b = torch.tensor([.5,1.], dtype=torch.float64);
  //   print(F.batch_norm(x.view(-1, 6, 2, 2), None, None, w.repeat(3), b.repeat(3), training=True, eps=1e-5).view(6,2,2,2).flatten().tolist())"
  const torchSplit = [
    -1.7573810583490472, 1.4075270062798702, 2.518597949723278, 0.9489892550797994, -0.156677169506396, 1.3814042185633588,
    2.003075839571321, 1.357603830933459, -1.8547334548684908, 1.1308481354498816, 2.487616258658615, 1.450111292019366,
    -0.19244652949978966, 1.2552164778929635, 1.9825244489472702, 1.5791457465804621, -1.906392582623619, 0.9002374209192853,
    2.4398583266859766, 1.8438488739550145, -0.2105787943161814, 1.1494830127592754, 1.956496450722592, 1.7551617589136896,
    -3.5012444752184813, 0.052424117591085735, 2.3167757221721357, 2.014311482721361, -0.9731821200467103, 0.7114305757565231,
    1.8576183370533592, 1.818726487675085, -3.3827789444367626, -0.19061328096522898, 2.118279247579689, 2.2412707465629302,
    -0.9070510565045383, 0.6047555790663716, 1.7631833370873422, 1.9146719964299175, -3.242700775199765, -0.3789409546151206,
    1.9394949109986406, 2.404594779879585, -0.8350404320316402, 0.5210912000386644, 1.678699714341489, 1.984687089572111,
  ];
  close(y, torchSplit, [6, 2, 2, 2], 1e-12);
  const stats = R.batchStats(x, 3);
  assert.equal(stats.mean.shape, [3, 2]);
  const group1 = R.slice(x, { dim: 0, start: 1, end: 6, step: 3 });
  close(R.reshape(R.slice(stats.mean, { dim: 0, start: 1, end: 2, step: 1 }), { shape: [2] }), R.mean(group1, { dims: [0, 2, 3] }).data);
  throwsWith(() => R.batchNorm(x, w, b, { groups: 4 }), 'batchNorm', 'batch size 6', 'groups=4');
  throwsWith(() => R.batchNorm(seq([2, 3], 0.1, 0), undefined, undefined, { groups: 2 }), 'more than 1 value per channel');
  throwsWith(() => R.batchNorm(seq([1, 3], 0.1, 0), undefined, undefined, {}), 'more than 1 value per channel');
  throwsWith(() => R.batchNorm(x, t([1, 2, 3], [3]), b, {}), 'batchNorm', 'weight', '[3]');
});

test('batchNormEval with the batch statistics reproduces training-mode output', () => {
  const x = seq([4, 3, 2, 2], 0.29, 0.5, Math.sin, 2);
  const w = t([1.5, -0.5, 2.0], [3]);
  const b = t([0.25, 0, -1], [3]);
  const s = R.batchStats(x);
  const flat = (r: R.RefTensor) => R.reshape(r, { shape: [3] });
  close(R.batchNormEval(x, flat(s.mean), flat(s.var), w, b, 1e-5), R.batchNorm(x, w, b, { eps: 1e-5 }).data, [4, 3, 2, 2]);
  close(R.batchNormEval(t([3, 5], [1, 2]), t([1, 1], [2]), t([4, 16], [2]), undefined, undefined, 0), [1, 1], [1, 2]);
});

test('crossEntropy: plain and with label smoothing, vs formula and PyTorch', () => {
  const logits = seq([4, 5], 0.61, 0.3, Math.sin, 2.5);
  const target = t([1, 0, 4, 2], [4]);
  // Formula: q = (1 − ε)·onehot + ε/C; loss = mean_i −Σ_c q_ic · log softmax(logits)_ic
  const formula = (eps: number) => {
    let total = 0;
    for (let i = 0; i < 4; i++) {
      const row = [...logits.data.slice(i * 5, i * 5 + 5)];
      const lse = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
      row.forEach((v, c) => (total -= ((c === target.data[i] ? 1 - eps : 0) + eps / 5) * (v - lse)));
    }
    return total / 4;
  };
  // PyTorch values: /usr/bin/python3 -c "import torch, torch.nn.functional as F;
  //   l = (2.5 * (torch.arange(20, dtype=torch.float64) * .61 + .3).sin()).reshape(4,5); y = torch.tensor([1,0,4,2]);
  //   print(F.cross_entropy(l, y, label_smoothing=0.1).item(), F.cross_entropy(l, y).item())"
  close(R.crossEntropy(logits, target, { labelSmoothing: 0.1 }), [1.7987283517691857], []);
  close(R.crossEntropy(logits, target, { labelSmoothing: 0 }), [1.7884500944692803], []);
  close(R.crossEntropy(logits, target, { labelSmoothing: 0.3 }), [formula(0.3)], []);
  close(R.crossEntropy(logits, target, { labelSmoothing: 0.1 }), [formula(0.1)], []);
  throwsWith(() => R.crossEntropy(logits, t([1, 0, 5, 2], [4]), {}), 'crossEntropy', 'index 5');
  throwsWith(() => R.crossEntropy(logits, t([1, 0], [2]), {}), 'crossEntropy', '[4,5]', '[2]');
  throwsWith(() => R.crossEntropy(logits, target, { labelSmoothing: 2 }), 'crossEntropy', 'labelSmoothing');
});

test('nllLoss is the mean negative picked log-probability', () => {
  close(R.nllLoss(t([-1, -2, -3, -0.5], [2, 2]), t([1, 0], [2])), [2.5], []);
  const logits = seq([3, 4], 0.4, 0.2);
  const target = t([3, 0, 2], [3]);
  close(R.nllLoss(R.logSoftmax(logits, { dim: 1 }), target), R.crossEntropy(logits, target, {}).data, []);
});

test('normalize gives unit rows and leaves zero rows at zero', () => {
  close(R.normalize(t([3, 4, 0, 0], [2, 2]), { dim: 1, eps: 1e-12 }), [0.6, 0.8, 0, 0], [2, 2]);
  close(R.normalize(t([3, 4], [2, 1]), { dim: 0 }), [0.6, 0.8], [2, 1]);
  const y = R.normalize(seq([3, 5], 0.7, 0.1), { dim: 1 });
  close(R.sum(R.square(y), { dims: [1], keepdim: false }), [1, 1, 1], [3]);
  close(R.normalize(t([1e-13, 0], [1, 2]), { dim: 1, eps: 1e-12 }), [0.1, 0], [1, 2]);
});

test('dropout scales kept values by 1/(1−p)', () => {
  const x = t([1, 2, 3, 4], [2, 2]);
  close(R.dropout(x, t([1, 0, 0, 1], [2, 2]), { p: 0.5 }), [2, 0, 0, 8], [2, 2]);
  close(R.dropout(x, t([1, 1, 1, 1], [2, 2]), { p: 0 }), [1, 2, 3, 4], [2, 2]);
  close(R.dropout(x, t([0, 0, 0, 0], [2, 2]), { p: 1 }), [0, 0, 0, 0], [2, 2]);
  throwsWith(() => R.dropout(x, t([1, 1], [2]), { p: 0.5 }), 'dropout', '[2]', '[2,2]');
  throwsWith(() => R.dropout(x, x, { p: 1.5 }), 'dropout', 'p');
});

test.run();
