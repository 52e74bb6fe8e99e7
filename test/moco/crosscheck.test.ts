// One MoCo step in wgrad against an independent PyTorch implementation (torch_moco_step.py):
// same initial weights (written as safetensors), same batch, queue and key permutation →
// loss, logits, every gradient, the momentum-updated key encoder and the queue must agree.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { skip } from '../skip.ts';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { setup, randnSeeded, assertClose } from '../helpers.ts';
import { findPythonWithTorch } from '../io/python.ts';
import { nn, Tensor, noGrad } from '../../src/index.ts';
import { MoCo } from '../../src/moco/moco.ts';
import { Generator } from '../../src/random.ts';
import { mapInto } from '../../src/ops/map.ts';
import { encodeSafetensors, decodeSafetensors } from '../../src/io/safetensors.ts';

test.before(setup);

async function host(tensors: Record<string, Tensor>): Promise<Record<string, { data: Float32Array; shape: number[] }>> {
  const out: Record<string, { data: Float32Array; shape: number[] }> = {};
  for (const [k, t] of Object.entries(tensors)) out[k] = { data: await t.toArray(), shape: [...t.shape] };
  return out;
}

for (const splits of [1, 2]) {
  test(`MoCo step matches PyTorch (SplitBatchNorm ${splits}, shuffled keys, queue wrapping)`, async () => {
    const py = findPythonWithTorch();
    if (!py) {
      return skip('no python3 with torch (bash scripts/setup.sh --with-python installs python3-torch)');
    }
    const [width, dim, K, B, m, T] = [3, 8, 10, 6, 0.9, 0.2];
    const encoder = new nn.SmallConvNet({ width, inChannels: 1, norm: (c: number) => new nn.SplitBatchNorm2d(c, splits) });
    const model = new MoCo({ encoder, dim, K, m, T, mlp: true, shuffleBN: true, generator: new Generator(11) });
    // Make the key encoder differ from the query encoder, and move the queue pointer so the batch wraps.
    noGrad(() => {
      for (const [, p] of model.momentum.key.namedParameters()) mapInto(p, [p], 'x0 * 0.7 + 0.05', 'test');
    });
    model.queue.enqueue(randnSeeded([7, dim], 3).mul(0.3));
    const xq = randnSeeded([B, 1, 12, 12], 21);
    const xk = randnSeeded([B, 1, 12, 12], 22);
    const before: Record<string, Tensor> = { queue: model.queue.tensor, xq, xk };
    for (const [k, t] of Object.entries(model.encoderQ.stateDict())) before[`query.${k}`] = t;
    for (const [k, t] of Object.entries(model.momentum.key.stateDict())) before[`key.${k}`] = t;
    const pre = await host(before);
    const ptr = model.queue.ptr;

    model.train();
    const out = model.step(xq, xk);
    out.loss.backward();
    const perm = model.lastPermutation!;
    assert.ok(perm && perm.length === B);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wgrad-moco-'));
    const inFile = path.join(dir, 'in.safetensors');
    const outFile = path.join(dir, 'out.safetensors');
    pre.perm = { data: Float32Array.from(perm), shape: [B] };
    fs.writeFileSync(
      inFile,
      encodeSafetensors(pre, {
        width: String(width),
        in_channels: '1',
        splits: String(splits),
        dim: String(dim),
        m: String(m),
        T: String(T),
        ptr: String(ptr),
      }),
    );
    execFileSync(py, [path.join(import.meta.dirname, 'torch_moco_step.py'), inFile, outFile], { stdio: ['ignore', 'inherit', 'inherit'] });
    const ref = decodeSafetensors(new Uint8Array(fs.readFileSync(outFile))).tensors;
    fs.rmSync(dir, { recursive: true });

    assertClose([await out.loss.item()], ref.loss.data, 1e-4, 'loss');
    assertClose(await out.logits!.toArray(), ref.logits.data, 1e-4, 'logits');
    let checked = 0;
    for (const [name, p] of model.encoderQ.namedParameters()) {
      const r = ref[`grad.${name}`];
      assert.ok(r, `PyTorch has no gradient for ${name}`);
      assertClose(await p.grad!.toArray(), r.data, 1e-4, `grad ${name}`);
      checked++;
    }
    assert.is(checked, Object.keys(ref).filter((k) => k.startsWith('grad.')).length, 'every PyTorch gradient was compared');
    for (const [name, p] of model.momentum.key.namedParameters())
      assertClose(await p.toArray(), ref[`key_after.${name}`].data, 1e-6, `key ${name}`);
    assertClose(await model.queue.snapshot(), ref.queue_after.data, 1e-5, 'queue after enqueue');
  });
}

test('momentum update: θ_k ← m·θ_k + (1−m)·θ_q to float32 rounding', async () => {
  const encoder = new nn.SmallConvNet({ width: 2 });
  const model = new MoCo({ encoder, dim: 4, K: 8, m: 0.99 });
  noGrad(() => {
    for (const [, p] of model.momentum.key.namedParameters()) mapInto(p, [p], 'x0 * 0.5 - 0.1', 'test');
  });
  const q = await Promise.all([...model.encoderQ.namedParameters()].map(([, p]) => p.toArray()));
  const k = await Promise.all([...model.momentum.key.namedParameters()].map(([, p]) => p.toArray()));
  model.momentum.update(0.99);
  const after = await Promise.all([...model.momentum.key.namedParameters()].map(([, p]) => p.toArray()));
  after.forEach((a, i) =>
    a.forEach((v, j) => {
      const [tk, tq] = [Math.fround(0.99) * k[i][j], Math.fround(1 - 0.99) * q[i][j]]; // the kernel's f32 weights
      // float32 rounding of the two products and the sum (the GPU may fuse them into an FMA)
      const bound = 3 * 2 ** -24 * (Math.abs(tk) + Math.abs(tq)) + 1e-30;
      assert.ok(Math.abs(v - (tk + tq)) <= bound, `param ${i}[${j}]: ${v} vs ${tk + tq}`);
    }),
  );
  for (const [, p] of model.momentum.key.namedParameters()) assert.is(p.requiresGrad, false, 'key encoder never requires grad');
});

test('shuffle BN: keys are un-shuffled back to their images', async () => {
  const encoder = new nn.SmallConvNet({ width: 2, norm: (c: number) => new nn.SplitBatchNorm2d(c, 2) });
  const shuffled = new MoCo({ encoder, dim: 4, K: 8, shuffleBN: true, generator: new Generator(3) });
  shuffled.momentum.key.eval(); // eval BN: a sample's key no longer depends on its batch-mates
  const x = randnSeeded([6, 1, 8, 8], 9);
  const k1 = await shuffled.keys(x).toArray();
  assert.ok(
    shuffled.lastPermutation!.some((p, i) => p !== i),
    'the batch was actually permuted',
  );
  const plain = await noGrad(() => shuffled.momentum.key.forward(x)).toArray();
  assertClose(k1, plain, 1e-6, 'keys of shuffled batch, un-shuffled');
  // In training mode with split BN (group = index % 2) a permutation that moves samples between
  // groups changes the statistics, so the keys differ.
  shuffled.momentum.key.train();
  const k3 = await noGrad(() => shuffled.momentum.key.forward(x)).toArray();
  for (let attempt = 0; attempt < 10; attempt++) {
    const k2 = await shuffled.keys(x).toArray();
    const perm = shuffled.lastPermutation!;
    // The partition into groups changes unless the even positions hold all-even or all-odd samples.
    const evens = new Set([...perm].filter((_, i) => i % 2 === 0).map((p) => p % 2));
    const regroups = evens.size > 1;
    if (!regroups) continue;
    assert.ok(
      k2.some((v, i) => Math.abs(v - k3[i]) > 1e-4),
      'split BN statistics depend on the shuffle',
    );
    return;
  }
  assert.unreachable('no permutation moved a sample between BN groups in 10 draws');
});

test.run();
