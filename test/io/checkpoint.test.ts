// Tensor-level checkpoints: saveSafetensors / loadSafetensors round trips (strided views
// included), training checkpoints that resume bit-identically (model parameters and buffers,
// SGD momentum buffers / AdamW moments and step counts, scheduler, generator states), error
// cases, and a Python reader (numpy/torch) that checks every tensor bit for bit and loads the
// model into torch modules of the same structure.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { skip } from '../skip.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import {
  Tensor,
  tensor,
  randn,
  tidy,
  keep,
  manualSeed,
  defaultGenerator,
  Generator,
  noGrad,
  optim,
  stats,
  saveSafetensors,
  loadSafetensors,
  saveCheckpoint,
  loadCheckpoint,
  readTensors,
} from '../../src/index.ts';
import { Module, parameter } from '../../src/nn/module.ts';
import { kaimingUniform, uniform } from '../../src/nn/init.ts';
import { mapInto } from '../../src/ops/map.ts';
import { setup } from '../helpers.ts';
import { findPythonWithNumpy, runPython } from './python.ts';

test.before(setup);

const dir = mkdtempSync(join(tmpdir(), 'wgrad-ckpt-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** A dense layer written against Module alone (so this test needs no conv/pool ops). */
class Dense extends Module {
  weight: Tensor;
  bias: Tensor;
  constructor(i: number, o: number) {
    super();
    this.weight = parameter(kaimingUniform([o, i], { a: Math.sqrt(5) }));
    this.bias = parameter(uniform([o], -1 / Math.sqrt(i), 1 / Math.sqrt(i)));
  }
  forward(x: Tensor): Tensor {
    return x.matmul(this.weight.T).add(this.bias);
  }
}

/** Two dense layers and a BatchNorm-like running mean of the input (a buffer updated in training). */
class Net extends Module {
  fc1 = new Dense(6, 8);
  fc2 = new Dense(8, 3);
  declare inputMean: Tensor;
  constructor() {
    super();
    this.registerBuffer('inputMean', tensor(new Float32Array(6), [6]));
  }
  forward(x: Tensor): Tensor {
    if (this.training) noGrad(() => mapInto(this.inputMean, [this.inputMean, x.mean(0)], 'x0 * 0.9 + x1 * 0.1', 'runningMean'));
    return this.fc2.forward(this.fc1.forward(x.sub(this.inputMean)).relu());
  }
}

const sha = (a: Float32Array) =>
  createHash('sha256')
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex');

test('saveSafetensors / loadSafetensors: GPU tensors round trip bit for bit, views included', async () => {
  const base = randn([4, 6], { generator: new Generator(3) });
  const tensors = { a: base, 'b.view': base.transpose(0, 1).slice(0, 1, 5), scalar: tensor(2.5), empty: tensor([], [0, 3]) };
  const path = join(dir, 'plain.safetensors');
  await saveSafetensors(path, tensors, { note: 'hello' });
  const { tensors: back, metadata } = await loadSafetensors(path);
  assert.equal(metadata, { note: 'hello' });
  assert.equal(Object.keys(back).sort(), Object.keys(tensors).sort());
  for (const [k, t] of Object.entries(tensors)) {
    assert.equal(back[k].shape, t.shape, `${k} shape`);
    assert.equal(await back[k].toArray(), await t.toArray(), `${k} values`);
  }
  // Everything is read back with one readback.
  const before = stats().readbacks;
  await readTensors(Object.values(tensors));
  assert.is(stats().readbacks - before, 1, 'one readback for all tensors');
});

interface Run {
  model: Net;
  opt: optim.Optimizer<any>;
  sched: optim.LRScheduler;
  data: Generator;
}

function startRun(kind: 'sgd' | 'adamw', seed: number, dataSeed: number): Run {
  manualSeed(seed);
  const model = new Net();
  const params = model.parameters();
  const opt =
    kind === 'sgd'
      ? new optim.SGD([{ params: params.slice(0, 2) }, { params: params.slice(2), lr: 0.02 }], {
          lr: 0.05,
          momentum: 0.9,
          nesterov: true,
          weightDecay: 1e-3,
        })
      : new optim.AdamW(params, { lr: 0.01 });
  const sched = new optim.LRScheduler(opt, optim.linearWarmup(1, optim.cosine(5)), { start: 1 });
  return { model, opt, sched, data: new Generator(dataSeed) };
}

/** One training step: batch from the data generator, 15 noise values from the default generator. */
function trainStep(r: Run): void {
  tidy(() => {
    const x = randn([5, 6], { generator: r.data });
    const y = randn([5, 3], { generator: r.data });
    const noise = randn([5, 3]); // odd count of normals: the generator's cached value matters
    r.opt.zeroGrad();
    const out = r.model.forward(x);
    out.sub(y).add(noise.mul(0.01)).square().mean().backward();
    r.opt.step();
    r.sched.step();
  });
}

async function snapshot(m: Module): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [k, t] of Object.entries(m.stateDict())) out[k] = sha(await t.toArray());
  return out;
}

function dispose(r: Run): void {
  r.opt.disposeState();
  for (const t of Object.values(r.model.stateDict())) {
    t.zeroGrad();
    t.dispose();
  }
}

for (const kind of ['sgd', 'adamw'] as const) {
  test(`${kind}: save → load → continue gives bit-identical parameters and buffers`, async () => {
    const steps = 6;
    const cut = 3;
    // Without a break.
    const a = startRun(kind, 1, 7);
    for (let s = 0; s < steps; s++) trainStep(a);
    const want = await snapshot(a.model);
    dispose(a);

    // With a checkpoint after `cut` steps, restored into freshly made (differently seeded) objects.
    const b = startRun(kind, 1, 7);
    for (let s = 0; s < cut; s++) trainStep(b);
    const path = join(dir, `${kind}.safetensors`);
    await saveCheckpoint(path, {
      model: b.model,
      optimizer: b.opt,
      scheduler: b.sched,
      step: cut,
      epoch: 0,
      config: { kind, lr: 0.05 },
      generators: { default: defaultGenerator, data: b.data },
      metadata: { run: 'test' },
    });
    dispose(b);
    const c = startRun(kind, 999, 123);
    defaultGenerator.seed(4242);
    const loaded = await loadCheckpoint(path, {
      model: c.model,
      optimizer: c.opt,
      scheduler: c.sched,
      generators: { default: defaultGenerator, data: c.data },
    });
    assert.equal(loaded.step, cut);
    assert.equal(loaded.epoch, 0);
    assert.equal(loaded.config, { kind, lr: 0.05 });
    assert.equal(loaded.metadata, { run: 'test' });
    for (let s = cut; s < steps; s++) trainStep(c);
    const got = await snapshot(c.model);
    assert.equal(got, want, 'every parameter and buffer is bit-identical');
    assert.ok(Object.keys(got).includes('input_mean'), 'the buffer is part of the state');
    if (kind === 'adamw') assert.is(c.opt.stateOf(c.model.fc1.weight)!.step, steps, 'AdamW step count');
    dispose(c);
  });
}

test('a restore that does not fit changes nothing and names the problem', async () => {
  const r = startRun('sgd', 5, 5);
  trainStep(r);
  const path = join(dir, 'fit.safetensors');
  await saveCheckpoint(path, { model: r.model, optimizer: r.opt });
  // A model with a different layer size: strict load lists the size mismatch.
  class Other extends Net {
    constructor() {
      super();
      this.fc2 = new Dense(8, 4);
    }
  }
  const other = new Other();
  const before = await snapshot(other);
  try {
    await loadCheckpoint(path, { model: other });
    assert.unreachable('should throw');
  } catch (e) {
    assert.match(
      (e as Error).message,
      /size mismatch for fc2\.weight: copying a tensor of shape \[3, 8\] from the state dict, the shape in the current model is \[4, 8\]/,
    );
    assert.match((e as Error).message, /fit\.safetensors/);
  }
  assert.equal(await snapshot(other), before, 'nothing was loaded');
  const adam = new optim.AdamW(r.model.parameters());
  try {
    await loadCheckpoint(path, { optimizer: adam });
    assert.unreachable('should throw');
  } catch (e) {
    assert.match((e as Error).message, /the checkpoint's optimizer is SGD, not AdamW/);
  }
  const plain = join(dir, 'plain2.safetensors');
  await saveSafetensors(plain, { x: tensor([1]) });
  try {
    await loadCheckpoint(plain, { model: r.model });
    assert.unreachable('should throw');
  } catch (e) {
    assert.match((e as Error).message, /not a wgrad checkpoint/);
  }
  dispose(r);
});

test('Python (numpy / torch) reads a checkpoint bit for bit and loads it into torch modules', async () => {
  const python = findPythonWithNumpy();
  if (!python) {
    return skip('no python3 with numpy (bash scripts/setup.sh --with-python installs python3-numpy)');
  }
  const r = startRun('sgd', 11, 12);
  trainStep(r);
  trainStep(r);
  const path = join(dir, 'py.safetensors');
  await saveCheckpoint(path, { model: r.model, optimizer: r.opt, step: 2, tensors: { queue: randn([4, 3]) } });
  const expected: Record<string, { shape: number[]; sha256: string }> = {};
  const all: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(r.model.stateDict())) all[`model.${k}`] = t;
  for (const [i, s] of Object.entries(r.opt.stateDict().state)) all[`optimizer.${i}.momentumBuffer`] = s.momentumBuffer as Tensor;
  for (const [k, t] of Object.entries(all)) expected[k] = { shape: [...t.shape], sha256: sha(await t.toArray()) };
  const script = `
import hashlib, json, struct, sys
import numpy as np
path = sys.argv[1]
raw = open(path, 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
header = json.loads(raw[8:8 + n])
meta = header.pop('__metadata__', {})
data = raw[8 + n:]
arrays = {}
for name, info in header.items():
    b, e = info['data_offsets']
    arrays[name] = np.frombuffer(data[b:e], dtype='<f4').reshape(info['shape'])
out = {'metadata': meta, 'tensors': {k: {'shape': list(a.shape), 'sha256': hashlib.sha256(a.tobytes()).hexdigest()} for k, a in arrays.items()}}
try:
    import torch
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(6, 8)
            self.fc2 = torch.nn.Linear(8, 3)
            self.register_buffer('input_mean', torch.zeros(6))
    net = Net()
    sd = {k[len('model.'):]: torch.from_numpy(a.copy()) for k, a in arrays.items() if k.startswith('model.')}
    net.load_state_dict(sd, strict=True)
    out['torch'] = {k: hashlib.sha256(v.numpy().tobytes()).hexdigest() for k, v in net.state_dict().items()}
except ImportError:
    out['torch'] = None
print(json.dumps(out))
`;
  const report = JSON.parse(runPython(python, script, [path])) as {
    metadata: Record<string, string>;
    tensors: Record<string, { shape: number[]; sha256: string }>;
    torch: Record<string, string> | null;
  };
  for (const [k, e] of Object.entries(expected)) assert.equal(report.tensors[k], e, `tensor ${k}`);
  assert.ok(report.tensors['extra.queue'], 'extra tensors are saved');
  assert.is(report.metadata['wgrad.step'], '2');
  const meta = JSON.parse(report.metadata['wgrad.optimizer']);
  assert.is(meta.type, 'SGD');
  assert.equal(
    meta.paramGroups.map((g: { params: number[] }) => g.params),
    [
      [0, 1],
      [2, 3],
    ],
  );
  if (report.torch) {
    for (const [k, t] of Object.entries(r.model.stateDict())) assert.is(report.torch[k], expected[`model.${k}`].sha256, `torch ${k}`);
  } else {
    console.log('note: torch not importable; checked with numpy only');
  }
  dispose(r);
});

test.run();
