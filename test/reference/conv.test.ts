import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as R from '../../src/reference/index.ts';
import { close, seq, t, throwsWith } from './helpers.ts';

test('conv2d with a 1×1 identity kernel returns the input', () => {
  const x = seq([2, 3, 4, 5], 0.37, 0.1);
  const eye = R.refFromFn([3, 3, 1, 1], (i) => (Math.floor(i / 3) === i % 3 ? 1 : 0));
  close(R.conv2d(x, eye, undefined, {}), x.data, [2, 3, 4, 5]);
});

test('conv2d equals an im2col + matmul formulation (padding 1)', () => {
  const x = seq([1, 2, 3, 3], 0.61, 0.2);
  const w = seq([3, 2, 2, 2], 0.23, -0.4, Math.cos);
  const b = t([0.1, 0.2, 0.3], [3]);
  const out = R.conv2d(x, w, b, { padding: [1, 1] });
  assert.equal(out.shape, [1, 3, 4, 4]);
  // patches[(c·2 + i)·2 + j, oy·4 + ox] = padded[c, oy + i, ox + j]
  const padded = R.pad2d(x, { padding: [1, 1, 1, 1] }); // [1, 2, 5, 5]
  const patches = R.refFromFn([8, 16], (flat) => {
    const [row, col] = [Math.floor(flat / 16), flat % 16];
    const [c, i, j] = [Math.floor(row / 4), Math.floor(row / 2) % 2, row % 2];
    const [oy, ox] = [Math.floor(col / 4), col % 4];
    return padded.data[(c * 5 + oy + i) * 5 + ox + j];
  });
  const viaMatmul = R.add(R.matmul(R.reshape(w, { shape: [3, 8] }), patches), R.reshape(b, { shape: [3, 1] }));
  close(out, viaMatmul.data, undefined, 1e-12);
});

test('conv2d with stride 2, padding 1, dilation 2, groups 2 matches PyTorch', () => {
  const x = seq([2, 4, 5, 6], 0.37, 0.1);
  const w = seq([4, 2, 2, 3], 0.53, 0.2, Math.cos, 0.5);
  const b = t([0.1, -0.2, 0.3, -0.4], [4]);
  // Expected from torch 1.13 (float64):
  // /usr/bin/python3 -c "import torch, torch.nn.functional as F; a = lambda n, s, o: torch.arange(n, dtype=torch.float64) * s + o;
  //   x = a(240, .37, .1).sin().reshape(2,4,5,6); w = (a(48, .53, .2).cos() * .5).reshape(4,2,2,3);
  //   print(F.conv2d(x, w, torch.tensor([.1,-.2,.3,-.4], dtype=torch.float64), stride=2, padding=1, dilation=2, groups=2).flatten().tolist())"
  const expected = [
    0.8679870349499111, 1.2119868125139135, -1.1247642782899665, -1.203913393629721, 0.7246165798664082, 1.087859159371023,
    0.590934202942476, 0.9737775222196825, -1.4093551408617897, -1.4911813708580102, 0.35603428200935955, 0.7530310750311733,
    -0.6523250043386277, -0.9555572820120373, 1.4339960133174523, 1.46871117780006, -0.15376240531139307, -0.4967959070495715,
    -1.3718410988563257, -1.7139132973759095, 0.6916256737190333, 0.7307853326058104, -0.7897830633465941, -1.169827117986915,
    1.0862300552215212, 1.1735044285354013, -1.0200752162515048, -0.9903079558520874, 0.5971285528859478, 0.7487950634482983,
    0.8231544209408685, 0.9541062048841047, -1.2791669374027135, -1.256165892064494, 0.25171193729817076, 0.4495028795957488,
    -0.8099548562682262, -0.8468804418014859, 1.1849455851966901, 1.1187317418697915, -0.03595815117732731, -0.16787240383550434,
    -1.5387141885867686, -1.6187392775777196, 0.4229179856036882, 0.36594918702967383, -0.7012083925685418, -0.8812730244859359,
  ];
  close(R.conv2d(x, w, b, { stride: [2, 2], padding: [1, 1], dilation: [2, 2], groups: 2 }), expected, [2, 4, 3, 2], 1e-12);
});

test('conv2d validates shapes and groups', () => {
  const x = seq([1, 4, 5, 5], 0.1, 0);
  throwsWith(() => R.conv2d(x, seq([2, 3, 3, 3], 0.1, 0), undefined, {}), 'conv2d', '[1,4,5,5]', '[2,3,3,3]');
  throwsWith(() => R.conv2d(x, seq([3, 2, 3, 3], 0.1, 0), undefined, { groups: 2 }), 'conv2d', 'groups=2');
  throwsWith(() => R.conv2d(x, seq([2, 4, 7, 7], 0.1, 0), undefined, {}), 'conv2d', 'too small');
  throwsWith(() => R.conv2d(x, seq([2, 4, 3, 3], 0.1, 0), t([1], [1]), {}), 'conv2d', 'bias', '[2]');
  throwsWith(() => R.conv2d(x, seq([2, 4, 3, 3], 0.1, 0), undefined, { stride: [0, 1] }), 'conv2d', 'stride');
});

test('maxPool2d on a known 4×4 grid, without and with padding', () => {
  const x = R.refFromFn([1, 1, 4, 4], (i) => i); // rows 0..3, 4..7, 8..11, 12..15
  close(R.maxPool2d(x, { kernelSize: [2, 2], stride: [2, 2] }), [5, 7, 13, 15], [1, 1, 2, 2]);
  // padding 1: windows cover rows {-1,0}, {1,2}, {3,4} and the same columns
  close(R.maxPool2d(x, { kernelSize: [2, 2], stride: [2, 2], padding: [1, 1] }), [0, 2, 3, 8, 10, 11, 12, 14, 15], [1, 1, 3, 3]);
  // padding counts as −Infinity, not 0
  const negative = R.refFromFn([1, 1, 2, 2], (i) => -(i + 1));
  close(R.maxPool2d(negative, { kernelSize: [2, 2], stride: [2, 2], padding: [1, 1] }), [-1, -2, -3, -4], [1, 1, 2, 2]);
  close(R.maxPool2d(R.reshape(x, { shape: [1, 4, 4] }), { kernelSize: [4, 4] }), [15], [1, 1, 1]);
});

test('pooling with padding matches PyTorch (kernel 3×2, stride 2×1, padding 1×1)', () => {
  const x = seq([1, 2, 4, 5], 0.71, -0.3, Math.sin, 3);
  const attrs = { kernelSize: [3, 2], stride: [2, 1], padding: [1, 1] };
  // Expected from torch 1.13 (float64), with x = 3 * sin(0.71 * arange(40) - 0.3).reshape(1,2,4,5):
  // /usr/bin/python3 -c "... F.max_pool2d(x, (3,2), (2,1), (1,1)) / F.avg_pool2d(x, (3,2), (2,1), (1,1), count_include_pad=True|False) ..."
  const max = [
    -0.3245854035903251, 1.1958279839532686, 2.700301326529515, 2.899783175499893, 2.899783175499893, 1.6978686913461085,
    1.4823400534158244, 2.824258117718455, 2.824258117718455, 2.801279315452954, 1.751955618045299, 1.751955618045299, 2.9160225041849266,
    2.9160225041849266, 2.6708449753631385, 2.0016014554185917, 2.974548506367184, 2.974548506367184, 2.5099669156081736,
    2.5099669156081736, 2.228431968745664, 2.999169013586771, 2.999169013586771, 2.974548506367184,
  ];
  const avgIncl = [
    -0.20185767059572393, -0.3675821870231623, -0.21522515618277827, 0.04114508061691868, 0.27763087723163254, 0.1869851568593739,
    -0.20641807889624975, -0.599700263792489, -0.7833645370631044, -0.5884473360307348, -0.1091475142846657, 0.08921746957920385,
    -0.006683326340272355, 0.12036019002428033, 0.3264167615101299, 0.3747238652028569, 0.24193582527717647, 0.06658520521989675,
    -0.3495166629405296, -0.465426540085524, 0.05780352204051901, 0.5530985149125368, 0.7810941327127537, 0.4017090169857304,
  ];
  const avgExcl = [
    -0.6055730117871718, -0.5513732805347434, -0.3228377342741674, 0.061717620925378025, 0.41644631584744884, 0.5609554705781217,
    -0.4128361577924995, -0.599700263792489, -0.7833645370631044, -0.5884473360307348, -0.1091475142846657, 0.1784349391584077,
    -0.020049979020817066, 0.1805402850364205, 0.4896251422651948, 0.5620857978042854, 0.3629037379157647, 0.19975561565969024,
    -0.6990333258810592, -0.465426540085524, 0.05780352204051901, 0.5530985149125368, 0.7810941327127537, 0.8034180339714608,
  ];
  close(R.maxPool2d(x, attrs), max, [1, 2, 2, 6]);
  close(R.avgPool2d(x, attrs), avgIncl, [1, 2, 2, 6]); // countIncludePad defaults to true
  close(R.avgPool2d(x, { ...attrs, countIncludePad: false }), avgExcl, [1, 2, 2, 6]);
});

test('pooling validation', () => {
  const x = seq([1, 1, 4, 4], 0.1, 0);
  throwsWith(() => R.maxPool2d(x, { kernelSize: [2, 2], padding: [2, 0] }), 'maxPool2d', 'half of kernelSize');
  throwsWith(() => R.avgPool2d(seq([4, 4], 0.1, 0), { kernelSize: [2, 2] }), 'avgPool2d', '[4,4]');
  throwsWith(() => R.maxPool2d(x, { kernelSize: [5, 1] }), 'maxPool2d', 'too small');
});

test('adaptiveAvgPool2d to 1×1 is the spatial mean; other sizes are refused', () => {
  const x = t([1, 2, 3, 4, 10, 20, 30, 40], [1, 2, 2, 2]);
  close(R.adaptiveAvgPool2d(x, { outputSize: [1, 1] }), [2.5, 25], [1, 2, 1, 1]);
  throwsWith(() => R.adaptiveAvgPool2d(x, { outputSize: [2, 2] }), 'adaptiveAvgPool2d', 'only outputSize [1,1]');
});

test.run();
