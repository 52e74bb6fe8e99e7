// One NNCLR step and one MoCo v3 step in wgrad against independent PyTorch implementations written
// from the papers (torch_methods_step.py): same initial weights, batch and support set → loss,
// logits, every gradient, the nearest neighbours, the support set after the update and the
// momentum-updated key encoder must agree.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { skip } from '../skip.ts';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { setup, randnSeeded, assertClose, hostTensors } from '../helpers.ts';
import { findPythonWithTorch } from '../io/python.ts';
import { nn, Tensor, noGrad } from '../../src/index.ts';
import { NNCLR } from '../../src/moco/nnclr.ts';
import { MoCoV3 } from '../../src/moco/mocov3.ts';
import { normalize } from '../../src/ops/norm.ts';
import { mapInto } from '../../src/ops/map.ts';
import { Generator } from '../../src/random.ts';
import { encodeSafetensors, decodeSafetensors } from '../../src/io/safetensors.ts';

test.before(setup);

type Host = Record<string, { data: Float32Array; shape: number[] }>;

const host = (tensors: Record<string, Tensor>): Promise<Host> => hostTensors(tensors);

/** Runs the PyTorch step on `pre` and returns its outputs, or null (visibly skipped) without torch. */
function torchStep(pre: Host, meta: Record<string, string>): Host | null {
  const py = findPythonWithTorch();
  if (!py) {
    skip('no python3 with torch (bash scripts/setup.sh --with-python installs python3-torch)');
    return null;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wgrad-methods-'));
  const [inFile, outFile] = [path.join(dir, 'in.safetensors'), path.join(dir, 'out.safetensors')];
  fs.writeFileSync(inFile, encodeSafetensors(pre, meta));
  execFileSync(py, [path.join(import.meta.dirname, 'torch_methods_step.py'), inFile, outFile], { stdio: ['ignore', 'inherit', 'inherit'] });
  const ref = decodeSafetensors(new Uint8Array(fs.readFileSync(outFile))).tensors;
  fs.rmSync(dir, { recursive: true });
  return ref as Host; // the script writes F32 only
}

async function assertGradients(params: Iterable<[string, Tensor]>, ref: Host): Promise<void> {
  let checked = 0;
  for (const [name, p] of params) {
    const r = ref[`grad.${name}`];
    assert.ok(r, `PyTorch has no gradient for ${name}`);
    assertClose(await p.grad!.toArray(), r.data, 1e-4, `grad ${name}`);
    checked++;
  }
  assert.is(checked, Object.keys(ref).filter((k) => k.startsWith('grad.')).length, 'every PyTorch gradient was compared');
}

// Support set of 10 rows: empty (the positive is z itself), 7 rows written (only those are
// searched; the batch of 6 wraps around), and full.
for (const prefill of [0, 7, 13]) {
  test(`NNCLR step matches PyTorch (support set of 10 after ${prefill} embeddings)`, async () => {
    const [width, dim, size, B, tau] = [3, 8, 10, 6, 0.2];
    const model = new NNCLR({
      encoder: new nn.SmallConvNet({ width, inChannels: 1 }),
      dim,
      supportSetSize: size,
      temperature: tau,
      projectionHeadWidth: 16,
      predictionHeadWidth: 20,
      generator: new Generator(5),
    });
    model.recordNeighbours();
    for (let done = 0; done < prefill; done += 7) {
      model.supportSet.enqueue(noGrad(() => normalize(randnSeeded([Math.min(7, prefill - done), dim], 3 + done))));
    }
    const x1 = randnSeeded([B, 1, 12, 12], 31);
    const x2 = randnSeeded([B, 1, 12, 12], 32);
    const before: Record<string, Tensor> = { support: model.supportSet.queue.tensor, x1, x2 };
    for (const [k, t] of Object.entries(model.net.stateDict())) before[`net.${k}`] = t;
    const pre = await host(before);
    const { ptr } = model.supportSet.queue;
    const { filled } = model.supportSet;
    assert.is(filled, Math.min(prefill, size));

    model.train();
    const out = model.step(x1, x2);
    out.loss.backward();

    const ref = torchStep(pre, {
      method: 'nnclr',
      width: String(width),
      in_channels: '1',
      dim: String(dim),
      temperature: String(tau),
      projection_layers: '3',
      projection_width: '16',
      prediction_width: '20',
      ptr: String(ptr),
      filled: String(filled),
    });
    if (!ref) return;
    const [i1, i2] = model.lastNeighbourIndices;
    if (filled === 0) assert.ok(i1 === null && i2 === null, 'no neighbours before the first enqueue');
    else {
      assert.equal(Array.from(await i1!.toArray()), Array.from(ref.nn1.data), 'nearest neighbours of view 1');
      assert.equal(Array.from(await i2!.toArray()), Array.from(ref.nn2.data), 'nearest neighbours of view 2');
      assert.ok(Math.max(...ref.nn1.data, ...ref.nn2.data) < filled, 'only written rows are searched');
    }
    assertClose([await out.loss.item()], ref.loss.data, 1e-4, 'loss');
    assertClose(await out.logits!.toArray(), ref.logits.data, 1e-4, 'logits');
    await assertGradients(model.net.namedParameters(), ref);
    assertClose(await model.supportSet.snapshot(), ref.support_after.data, 1e-5, 'support set after the update');
    assert.is(model.supportSet.queue.ptr, (ptr + B) % size);
    assert.is(model.supportSet.filled, Math.min(size, filled + B));
  });
}

for (const progress of [0, 0.3]) {
  test(`MoCo v3 step matches PyTorch (momentum schedule at progress ${progress})`, async () => {
    const [width, dim, mlpDim, B, m, T] = [3, 8, 12, 6, 0.9, 0.2];
    const model = new MoCoV3({ encoder: new nn.SmallConvNet({ width, inChannels: 1 }), dim, mlpDim, m, T });
    // Make the key encoder differ from the query encoder.
    noGrad(() => {
      for (const [, p] of model.momentum.key.namedParameters()) mapInto(p, [p], 'x0 * 0.7 + 0.05', 'test');
    });
    const x1 = randnSeeded([B, 1, 12, 12], 41);
    const x2 = randnSeeded([B, 1, 12, 12], 42);
    const before: Record<string, Tensor> = { x1, x2 };
    for (const [k, t] of Object.entries(model.net.stateDict())) before[`query.${k}`] = t;
    for (const [k, t] of Object.entries(model.momentum.key.stateDict())) before[`key.${k}`] = t;
    const pre = await host(before);

    model.train();
    const out = model.step(x1, x2, progress);
    out.loss.backward();

    const ref = torchStep(pre, {
      method: 'mocov3',
      width: String(width),
      in_channels: '1',
      dim: String(dim),
      mlp_dim: String(mlpDim),
      m: String(m),
      T: String(T),
      progress: String(progress),
    });
    if (!ref) return;
    assertClose([model.lastMomentum], ref.momentum.data, 1e-7, 'scheduled momentum');
    assertClose([await out.loss.item()], ref.loss.data, 1e-4, 'loss');
    assertClose(await out.logits!.toArray(), ref.logits.data, 1e-4, 'logits');
    await assertGradients(model.net.namedParameters(), ref);
    for (const [name, p] of model.momentum.key.namedParameters())
      assertClose(await p.toArray(), ref[`key_after.${name}`].data, 1e-6, `key ${name}`);
    for (const [, p] of model.momentum.key.namedParameters()) assert.is(p.grad, null, 'the key encoder gets no gradient');
  });
}

test.run();
