// Module mechanics: parameter / buffer discovery and dotted names, train/eval, state dicts (round
// trip, strict-load errors), repr against PyTorch's, initialisation bounds and statistics,
// Sequential indexing, replaceable fc, SplitBatchNorm2d modes, Dropout; and the state-dict keys
// of SmallConvNet / resnet18Cifar against their PyTorch twins (test/nn/torch_models.py); the
// fused batch norm → ReLU of Sequential and the backbones against the module-by-module path.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { skip } from '../skip.ts';
import { fileURLToPath } from 'node:url';
import { dirname } from 'node:path';
import { Tensor, tensor, tidy, manualSeed, nn, batchNorm, randn, Generator } from '../../src/index.ts';
import { setup, assertClose } from '../helpers.ts';
import { findPythonWithNumpy, runPython, findPythonWithTorch } from '../io/python.ts';

test.before(setup);

const HERE = dirname(fileURLToPath(import.meta.url));

class Block extends nn.Module {
  layers = new nn.Sequential(new nn.Linear(4, 3), new nn.ReLU(), new nn.Linear(3, 2, { bias: false }));
  norm = new nn.BatchNorm1d(2);
  scaleFactor = 2; // not a tensor, not a module: ignored
  forward(x: Tensor): Tensor {
    return this.norm.forward(this.layers.forward(x)).mul(this.scaleFactor);
  }
}

test('parameters, buffers and children are discovered with dotted snake_case names', () => {
  const m = new Block();
  assert.equal(
    [...m.namedParameters()].map(([k]) => k),
    ['layers.0.weight', 'layers.0.bias', 'layers.2.weight', 'norm.weight', 'norm.bias'],
  );
  assert.equal(
    [...m.namedBuffers()].map(([k]) => k),
    ['norm.running_mean', 'norm.running_var'],
  );
  assert.equal(Object.keys(m.stateDict()), [
    'layers.0.weight',
    'layers.0.bias',
    'layers.2.weight',
    'norm.weight',
    'norm.bias',
    'norm.running_mean',
    'norm.running_var',
  ]);
  assert.equal(
    [...m.namedChildren()].map(([k]) => k),
    ['layers', 'norm'],
  );
  assert.equal(
    [...m.namedModules()].map(([k]) => k),
    ['', 'layers', 'layers.0', 'layers.1', 'layers.2', 'norm'],
  );
  for (const p of m.parameters()) assert.ok(p.requiresGrad && p.isPersistent, 'parameters require grad and are persistent');
  for (const b of m.buffers()) assert.ok(!b.requiresGrad && b.isPersistent, 'buffers are persistent without grad');
  assert.is(nn.stateName('runningMean'), 'running_mean');
  assert.is(nn.stateName('encoderQ'), 'encoder_q');
  assert.is(nn.stateName('layer1'), 'layer1');
});

test('a module made inside tidy keeps its parameters; a shared module counts once', async () => {
  const lin = tidy(() => new nn.Linear(3, 2));
  assert.ok(!lin.weight.isDisposed && !lin.bias!.isDisposed);
  await lin.weight.toArray();
  const shared = new nn.Sequential(lin, new nn.ReLU(), lin);
  assert.equal(
    [...shared.namedParameters()].map(([k]) => k),
    ['0.weight', '0.bias'],
  );
  assert.is(shared.parameters().length, 2);
});

test('train() / eval() reach every descendant; call() runs forward', async () => {
  const m = new Block();
  assert.ok(m.modules().every((x) => x.training));
  m.eval();
  assert.ok(m.modules().every((x) => !x.training));
  m.train();
  assert.ok(m.modules().every((x) => x.training));
  m.eval();
  const x = randn([5, 4], { generator: new Generator(1) });
  assert.equal(await m.call(x).toArray(), await m.forward(x).toArray());
});

test('Sequential: indexable children, length, at(), append', () => {
  const a = new nn.Linear(2, 2);
  const s = new nn.Sequential(a, new nn.ReLU());
  assert.is(s[0], a);
  assert.ok(s[1] instanceof nn.ReLU);
  assert.is(s.length, 2);
  assert.is(s.at(-1), s[1]);
  s.append(new nn.Identity());
  assert.is(s.length, 3);
  assert.throws(() => s.at(7), /index 7 is out of range for 3 modules/);
});

test('stateDict round trip copies values into the same tensors; zeroGrad drops gradients', async () => {
  manualSeed(1);
  const a = new Block();
  manualSeed(2);
  const b = new Block();
  const ids = b.parameters().map((p) => p.id);
  const r = b.loadStateDict(a.stateDict());
  assert.equal(r, { missingKeys: [], unexpectedKeys: [] });
  assert.equal(
    b.parameters().map((p) => p.id),
    ids,
    'same tensors, updated in place',
  );
  for (const [k, t] of Object.entries(a.stateDict())) assert.equal(await b.stateDict()[k].toArray(), await t.toArray(), k);
  tidy(() =>
    b
      .forward(randn([4, 4]))
      .sum()
      .backward(),
  );
  assert.ok(b.parameters().every((p) => p.grad !== null));
  b.zeroGrad();
  assert.ok(b.parameters().every((p) => p.grad === null));
});

test('loadStateDict: strict errors list missing, unexpected keys and size mismatches, and change nothing', async () => {
  const m = new Block();
  const before = await m.stateDict()['layers.0.weight'].toArray();
  const dict: Record<string, Tensor> = { ...m.stateDict() };
  delete dict['norm.running_var'];
  delete dict['layers.2.weight'];
  dict['extra.weight'] = tensor([1]);
  dict['layers.0.weight'] = tensor(new Float32Array(8), [2, 4]);
  let msg = '';
  try {
    m.loadStateDict(dict);
  } catch (e) {
    msg = (e as Error).message;
  }
  assert.match(msg, /^Error\(s\) in loading state dict for Block:/);
  assert.match(msg, /Missing key\(s\) in state dict: "layers\.2\.weight", "norm\.running_var"\./);
  assert.match(msg, /Unexpected key\(s\) in state dict: "extra\.weight"\./);
  assert.match(
    msg,
    /size mismatch for layers\.0\.weight: copying a tensor of shape \[2, 4\] from the state dict, the shape in the current model is \[3, 4\]\./,
  );
  assert.equal(await m.stateDict()['layers.0.weight'].toArray(), before, 'nothing loaded');
  // Non-strict: missing / unexpected keys are reported, not fatal; size mismatches still are.
  dict['layers.0.weight'] = m.stateDict()['layers.0.weight'];
  const r = m.loadStateDict(dict, { strict: false });
  assert.equal(r, { missingKeys: ['layers.2.weight', 'norm.running_var'], unexpectedKeys: ['extra.weight'] });
  dict['norm.bias'] = tensor([1, 2, 3]);
  assert.throws(() => m.loadStateDict(dict, { strict: false }), /size mismatch for norm\.bias/);
});

test('toString prints like PyTorch', () => {
  // print(nn.Sequential(nn.Conv2d(1,4,3,padding=1,bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
  //   nn.Conv2d(4,8,(3,5),stride=2,dilation=2,groups=2), nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
  //   nn.Linear(8,10), nn.Dropout(0.25), nn.BatchNorm1d(10, eps=1e-3, momentum=0.01, affine=False), nn.Identity()))
  // with torch 1.13:
  const torchRepr = `Sequential(
  (0): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)
  (1): BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)
  (2): ReLU()
  (3): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
  (4): Conv2d(4, 8, kernel_size=(3, 5), stride=(2, 2), dilation=(2, 2), groups=2)
  (5): AvgPool2d(kernel_size=2, stride=2, padding=0)
  (6): AdaptiveAvgPool2d(output_size=1)
  (7): Flatten(start_dim=1, end_dim=-1)
  (8): Linear(in_features=8, out_features=10, bias=True)
  (9): Dropout(p=0.25, inplace=False)
  (10): BatchNorm1d(10, eps=0.001, momentum=0.01, affine=False, track_running_stats=True)
  (11): Identity()
)`;
  const m = new nn.Sequential(
    new nn.Conv2d(1, 4, 3, { padding: 1, bias: false }),
    new nn.BatchNorm2d(4),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Conv2d(4, 8, [3, 5], { stride: 2, dilation: 2, groups: 2 }),
    new nn.AvgPool2d(2),
    new nn.AdaptiveAvgPool2d(1),
    new nn.Flatten(),
    new nn.Linear(8, 10),
    new nn.Dropout(0.25),
    new nn.BatchNorm1d(10, { eps: 1e-3, momentum: 0.01, affine: false }),
    new nn.Identity(),
  );
  assert.is(m.toString(), torchRepr);
  assert.is(
    String(new nn.SplitBatchNorm2d(4, 8)),
    'SplitBatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True, num_splits=8)',
  );
  assert.is(nn.pyFloat(1e-5), '1e-05');
  assert.is(nn.pyFloat(2.5e-7), '2.5e-07');
  assert.is(nn.pyFloat(1), '1.0');
  assert.is(nn.pyFloat(0.0001), '0.0001');
});

/** Host values of a tensor with their bound, mean and variance. */
async function moments(t: Tensor) {
  const v = await t.toArray();
  let s = 0;
  let s2 = 0;
  let maxAbs = 0;
  for (const x of v) {
    s += x;
    s2 += x * x;
    maxAbs = Math.max(maxAbs, Math.abs(x));
  }
  const mean = s / v.length;
  return { n: v.length, mean, variance: s2 / v.length - mean * mean, maxAbs };
}

test('initialisation: PyTorch bounds (kaiming-uniform a=√5, bias ±1/√fan_in) and uniform statistics', async () => {
  manualSeed(0);
  for (const [layer, fanIn] of [
    [new nn.Linear(300, 200), 300],
    [new nn.Conv2d(16, 64, 3), 144],
    [new nn.Conv2d(32, 64, [1, 3], { groups: 4 }), 24],
  ] as const) {
    const bound = 1 / Math.sqrt(fanIn); // gain √(2/(1+5)) · √(3/fan_in)
    for (const [name, t] of [
      ['weight', layer.weight],
      ['bias', layer.bias!],
    ] as const) {
      const m = await moments(t);
      assert.ok(m.maxAbs <= bound * (1 + 1e-6), `${name}: max |x| ${m.maxAbs} above bound ${bound}`);
      if (m.n >= 1000) {
        // U(−b, b): max close to b, mean 0 (± 4 standard errors), variance b²/3 (± 5%).
        assert.ok(m.maxAbs > 0.99 * bound, `${name}: max |x| ${m.maxAbs} far below the bound ${bound}`);
        assert.ok(Math.abs(m.mean) < (4 * bound) / Math.sqrt(3 * m.n), `${name}: mean ${m.mean}`);
        assert.ok(Math.abs(m.variance / ((bound * bound) / 3) - 1) < 0.05, `${name}: variance ${m.variance} vs ${(bound * bound) / 3}`);
      }
    }
  }
  const bn = new nn.BatchNorm2d(3);
  assert.equal([...(await bn.weight!.toArray())], [1, 1, 1]);
  assert.equal([...(await bn.bias!.toArray())], [0, 0, 0]);
  assert.equal([...(await bn.runningVar.toArray())], [1, 1, 1]);
  // Seeded: same seed, same weights; another seed, others.
  manualSeed(5);
  const w1 = await new nn.Linear(8, 8).weight.toArray();
  manualSeed(5);
  const w2 = await new nn.Linear(8, 8).weight.toArray();
  manualSeed(6);
  const w3 = await new nn.Linear(8, 8).weight.toArray();
  assert.equal(w1, w2);
  assert.not.equal(w1, w3);
  // resnet18Cifar: torchvision's kaiming-normal(fan_out, relu) convolutions.
  const r = nn.resnet18Cifar({ width: 16 });
  const m = await moments(r.layer3[0] instanceof nn.BasicBlock ? (r.layer3[0] as nn.BasicBlock).conv2.weight : r.conv1.weight);
  const std = Math.sqrt(2 / (64 * 9));
  assert.ok(Math.abs(Math.sqrt(m.variance) / std - 1) < 0.03, `resnet conv std ${Math.sqrt(m.variance)} vs ${std}`);
});

test('encoders: feature sizes, replaceable fc, and the norm factory', async () => {
  manualSeed(3);
  const net = new nn.SmallConvNet({ width: 4 });
  assert.is(net.featureDim, 16);
  assert.ok(net.fc instanceof nn.Identity);
  const x = randn([2, 1, 28, 28]);
  assert.equal(net.forward(x).shape, [2, 16]);
  net.fc = new nn.Linear(16, 10);
  assert.equal(net.forward(x).shape, [2, 10]);
  assert.ok(Object.keys(net.stateDict()).includes('fc.weight'));
  const split = new nn.SmallConvNet({ width: 4, norm: (c) => new nn.SplitBatchNorm2d(c, 2) });
  assert.ok(split.features[1] instanceof nn.SplitBatchNorm2d);
  const r = nn.resnet18Cifar({ width: 4, numClasses: 10 });
  assert.is(r.featureDim, 32);
  assert.equal(r.forward(randn([2, 3, 16, 16])).shape, [2, 10]);
  assert.is(r.parameters().length, 62, 'ResNet-18 has 62 parameter tensors');
});

test('SplitBatchNorm2d: interleaved groups in training, running statistics in eval', async () => {
  manualSeed(4);
  const x = randn([8, 3, 4, 4]).mul(2).add(1);
  const m = new nn.SplitBatchNorm2d(3, 4);
  const rm = tensor(new Float32Array(3), [3]);
  const rv = tensor([1, 1, 1]);
  assertClose(
    await m.forward(x).toArray(),
    await batchNorm(x, rm, rv, m.weight, m.bias, { training: true, groups: 4 }).toArray(),
    1e-6,
    'training',
  );
  assertClose(await m.runningMean.toArray(), await rm.toArray(), 1e-6, 'running mean updated as the op does');
  m.eval();
  assertClose(
    await m.forward(x).toArray(),
    await batchNorm(x, m.runningMean, m.runningVar, m.weight, m.bias, { training: false }).toArray(),
    1e-6,
    'eval',
  );
  // Groups matter: a plain BatchNorm2d gives something else in training.
  const plain = new nn.BatchNorm2d(3);
  m.train();
  const a = await m.forward(x).toArray();
  const b = await plain.forward(x).toArray();
  assert.ok(
    a.some((v, i) => Math.abs(v - b[i]) > 1e-3),
    'split statistics differ from whole-batch ones',
  );
});

test('Dropout: zeros and rescales in training, identity in eval', async () => {
  const d = new nn.Dropout(0.5, new Generator(9));
  const x = tensor(new Float32Array(1000).fill(1), [1000]);
  const y = await d.forward(x).toArray();
  const zeros = y.filter((v) => v === 0).length;
  assert.ok(zeros > 400 && zeros < 600, `${zeros} zeros`);
  assert.ok(
    y.every((v) => v === 0 || v === 2),
    'kept values scaled by 1/(1−p)',
  );
  d.eval();
  assert.equal(await d.forward(x).toArray(), await x.toArray());
});

test('state-dict keys, shapes and repr match the PyTorch twins of SmallConvNet and resnet18Cifar', async () => {
  const python = findPythonWithNumpy();
  const hasTorch = findPythonWithTorch() !== null;
  if (!hasTorch) {
    return skip('no python3 with torch (bash scripts/setup.sh --with-python installs python3-torch)');
  }
  const script = `
import sys, json
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[1])
import torch_models as tm
out = {}
for name, m in [('small', tm.SmallConvNet(width=4, num_classes=10)), ('resnet', tm.ResNet(width=8, num_classes=10))]:
    out[name] = {'keys': [[k, list(v.shape)] for k, v in m.state_dict().items() if not k.endswith('num_batches_tracked')], 'repr': repr(m)}
print(json.dumps(out))
`;
  const ref = JSON.parse(runPython(python!, script, [HERE]));
  const small = new nn.SmallConvNet({ width: 4, numClasses: 10 });
  const resnet = nn.resnet18Cifar({ width: 8, numClasses: 10 });
  for (const [name, m] of [
    ['small', small],
    ['resnet', resnet],
  ] as const) {
    assert.equal(
      Object.entries(m.stateDict()).map(([k, t]) => [k, [...t.shape]]),
      ref[name].keys,
      `${name}: keys and shapes in order`,
    );
  }
  assert.is(small.toString(), ref.small.repr, 'SmallConvNet repr');
  assert.is(resnet.toString(), ref.resnet.repr, 'ResNet repr');
});

// ---- fused batch norm → ReLU in the backbones --------------------------------------------------

/** SmallConvNet's forward run module by module: no fusion (batchNorm then a separate relu). */
function smallConvNetUnfused(m: nn.SmallConvNet, x: Tensor): Tensor {
  for (const layer of m.features.children()) x = layer.forward(x);
  return m.fc.forward(m.flatten.forward(m.pool.forward(x)));
}

/** ResNet's forward with every norm → ReLU pair run as two modules. */
function resnetUnfused(m: nn.ResNet, x: Tensor): Tensor {
  let h = m.maxpool.forward(m.relu.forward(m.bn1.forward(m.conv1.forward(x))));
  for (const layer of [m.layer1, m.layer2, m.layer3, m.layer4]) {
    for (const b of layer.children() as nn.BasicBlock[]) {
      const out = b.bn2.forward(b.conv2.forward(b.relu.forward(b.bn1.forward(b.conv1.forward(h)))));
      h = b.relu.forward(out.add(b.downsample ? b.downsample.forward(h) : h));
    }
  }
  return m.fc.forward(m.avgpool.forward(h).flatten(1));
}

const BACKBONES: [string, () => nn.Module, (m: nn.Module, x: Tensor) => Tensor, number[]][] = [
  [
    'SmallConvNet (SplitBatchNorm2d(c, 4))',
    () => new nn.SmallConvNet({ width: 4, norm: (c) => new nn.SplitBatchNorm2d(c, 4) }),
    (m, x) => smallConvNetUnfused(m as nn.SmallConvNet, x),
    [8, 1, 12, 12],
  ],
  [
    'SmallConvNet (BatchNorm2d, 14×14: strided conv outputs)',
    () => new nn.SmallConvNet({ width: 4, numClasses: 3 }),
    (m, x) => smallConvNetUnfused(m as nn.SmallConvNet, x),
    [4, 1, 14, 14],
  ],
  [
    'resnet18Cifar (SplitBatchNorm2d(c, 2))',
    () => nn.resnet18Cifar({ width: 4, norm: (c) => new nn.SplitBatchNorm2d(c, 2) }),
    (m, x) => resnetUnfused(m as nn.ResNet, x),
    [4, 3, 8, 8],
  ],
  [
    'ResNet imagenet stem (BatchNorm2d)',
    () => new nn.ResNet([1, 1, 1, 1], { stem: 'imagenet', width: 4 }),
    (m, x) => resnetUnfused(m as nn.ResNet, x),
    [2, 3, 16, 16],
  ],
];

for (const [name, make, unfused, shape] of BACKBONES) {
  test(`${name}: the fused norm → ReLU forward equals the module-by-module one (output, every gradient, running statistics; train and eval)`, async () => {
    manualSeed(7);
    const a = make();
    manualSeed(7);
    const b = make();
    const x = randn(shape, { generator: new Generator(8) });
    for (const training of [true, false]) {
      a.train(training);
      b.train(training);
      const ya = a.forward(x);
      const yb = unfused(b, x);
      const r = randn([...ya.shape], { generator: new Generator(9) });
      ya.mul(r).sum().backward();
      yb.mul(r).sum().backward();
      const mode = training ? 'train' : 'eval';
      assertClose(await ya.toArray(), await yb.toArray(), 1e-5, `${mode} output`);
      const pb = new Map(b.namedParameters());
      for (const [k, p] of a.namedParameters())
        assertClose(await p.grad!.toArray(), await pb.get(k)!.grad!.toArray(), 1e-5, `${mode} grad ${k}`);
      const bb = new Map(b.namedBuffers());
      for (const [k, t] of a.namedBuffers()) assertClose(await t.toArray(), await bb.get(k)!.toArray(), 1e-6, `${mode} ${k}`);
      for (const m of [a, b]) m.zeroGrad();
    }
  });
}

test('Sequential fuses a batch norm layer followed by a ReLU layer (recorded as batchNorm with activation relu) and nothing else', () => {
  const x = randn([4, 3, 4, 4], { generator: new Generator(10) }).requiresGrad_();
  const fused = new nn.Sequential(new nn.BatchNorm2d(3), new nn.ReLU()).forward(x);
  assert.is(fused.node!.op, 'batchNorm');
  assert.equal(fused.node!.attrs, { eps: 1e-5, groups: 1, activation: 'relu' });
  // A ReLU subclass with its own forward, a norm that is not batch norm, a ReLU not right after the norm: not fused.
  class LeakyReLU extends nn.ReLU {
    override forward(t: Tensor): Tensor {
      return t.relu().add(t.mul(0.01));
    }
  }
  assert.is(new nn.Sequential(new nn.BatchNorm2d(3), new LeakyReLU()).forward(x).node!.op, 'add');
  assert.is(new nn.Sequential(new nn.Identity(), new nn.ReLU()).forward(x).node!.op, 'relu');
  const apart = new nn.Sequential(new nn.BatchNorm2d(3), new nn.Identity(), new nn.ReLU()).forward(x);
  assert.is(apart.node!.op, 'relu');
  assert.equal(apart.node!.inputs[0].node!.attrs, { eps: 1e-5, groups: 1 });
  // SmallConvNet's printed structure and state-dict names are those of the unfused PyTorch layout.
  const net = new nn.SmallConvNet({ width: 2, norm: (c) => new nn.SplitBatchNorm2d(c, 2) });
  assert.equal(Object.keys(net.stateDict()).slice(0, 6), [
    'features.0.weight',
    'features.1.weight',
    'features.1.bias',
    'features.1.running_mean',
    'features.1.running_var',
    'features.3.weight',
  ]);
  assert.match(String(net), /\(2\): ReLU\(\)/);
});

test.run();
