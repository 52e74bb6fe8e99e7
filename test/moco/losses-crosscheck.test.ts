// One step of every contrastive loss and mechanism of MoCo besides the plain InfoNCE queue step
// (crosscheck.test.ts) against independent float64 PyTorch implementations written from the papers
// (torch_losses_step.py): SimCLR's NT-Xent and DCL over 2N views (end-to-end mechanism, as
// `--method simclr` builds them), NT-Xent / DCL on the queue mechanism's momentum keys, the
// symmetric MoCo loss, end-to-end InfoNCE and the memory bank. Same weights, views, key
// permutations, queue and bank on both sides; loss, pretext accuracy, every gradient, BN running
// statistics, the momentum-updated key encoder, queue and bank after the step must agree to 1e-4 of
// each tensor's largest value (assertScaled: unlike assertClose there is no floor of 1, so a 1 %
// error in gradients of size 1e-3 fails).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { skip } from '../skip.ts';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { setup, randnSeeded, hostTensors } from '../helpers.ts';
import { findPythonWithTorch } from '../io/python.ts';
import { nn, Tensor, noGrad, manualSeed } from '../../src/index.ts';
import { MoCo, type LossKind, type Mechanism } from '../../src/moco/moco.ts';
import { Generator } from '../../src/random.ts';
import { mapInto } from '../../src/ops/map.ts';
import { encodeSafetensors, decodeSafetensors } from '../../src/io/safetensors.ts';

test.before(setup);

type Host = Record<string, { data: Float32Array; shape: number[] }>;

const host = (tensors: Record<string, Tensor>): Promise<Host> => hostTensors(tensors);

/** Per case, the largest difference of each kind of comparison relative to its scale: printed at the end. */
const worst = new Map<string, Map<string, number>>();
let current = new Map<string, number>();

/**
 * max |actual − expected| ≤ tol · max |expected| (+ atol for tensors that are all near 0): a
 * relative bound on the tensor's scale, so small gradients are held to the same 1e-4 as large ones.
 */
function assertScaled(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tol = 1e-4, atol = 1e-7): void {
  assert.is(actual.length, expected.length, `${what}: length`);
  let [scale, err] = [0, 0];
  for (let i = 0; i < actual.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]));
    err = Math.max(err, Math.abs(actual[i] - expected[i]));
  }
  assert.ok(err <= tol * scale + atol, `${what}: max abs error ${err} exceeds ${tol} × max |expected| (${scale}) + ${atol}`);
  const kind = what.replace(/ .*/, '');
  current.set(kind, Math.max(current.get(kind) ?? 0, scale > 0 ? err / scale : err));
}

interface Case {
  name: string;
  mechanism: Mechanism;
  loss: LossKind;
  symmetric?: boolean;
  splits: number;
}

const cases: Case[] = [
  { name: 'SimCLR: NT-Xent over 2N views, end-to-end', mechanism: 'end-to-end', loss: 'ntxent', splits: 2 },
  { name: 'SimCLR with DCL (positive out of the denominator), end-to-end', mechanism: 'end-to-end', loss: 'dcl', splits: 2 },
  { name: 'end-to-end InfoNCE (in-batch negatives)', mechanism: 'end-to-end', loss: 'infonce', splits: 1 },
  {
    name: 'symmetric MoCo: both views as queries, both key batches enqueued (wrapping)',
    mechanism: 'queue',
    loss: 'infonce',
    symmetric: true,
    splits: 2,
  },
  { name: 'queue mechanism, NT-Xent on momentum keys', mechanism: 'queue', loss: 'ntxent', splits: 2 },
  { name: 'queue mechanism, symmetric DCL on momentum keys', mechanism: 'queue', loss: 'dcl', symmetric: true, splits: 1 },
  { name: 'memory bank (Wu et al.), a repeated image in the batch', mechanism: 'memory-bank', loss: 'infonce', splits: 2 },
];

for (const c of cases) {
  test(`${c.name}: one step matches float64 PyTorch`, async () => {
    const py = findPythonWithTorch();
    if (!py) return skip('no python3 with torch (bash scripts/setup.sh --with-python installs python3-torch)');
    worst.set(c.name, (current = new Map()));
    manualSeed(0); // the encoder's initial weights, whatever earlier test files drew
    const [width, dim, K, B, m, T, bankSize] = [3, 8, 16, 6, 0.9, 0.2, 9];
    // Record every key-batch permutation the step draws (the symmetric step draws one per view).
    const gen = new Generator(11);
    const perms: Int32Array[] = [];
    const draw = gen.permutation.bind(gen);
    gen.permutation = (n: number) => {
      const p = draw(n);
      perms.push(p);
      return p;
    };
    const encoder = new nn.SmallConvNet({ width, inChannels: 1, norm: (ch: number) => new nn.SplitBatchNorm2d(ch, c.splits) });
    const model = new MoCo({
      encoder,
      dim,
      K,
      m,
      T,
      mlp: true,
      shuffleBN: true,
      loss: c.loss,
      symmetric: c.symmetric ?? false,
      mechanism: c.mechanism,
      bankSize,
      generator: gen,
    });
    // A key encoder unlike the query encoder (so the momentum update shows), and a queue pointer
    // such that the symmetric step's 12 keys wrap around the 16 rows.
    noGrad(() => {
      for (const [, p] of model.momentum.key.namedParameters()) mapInto(p, [p], 'x0 * 0.7 + 0.05', 'test');
    });
    model.queue.enqueue(randnSeeded([7, dim], 3).mul(0.3));
    const x1 = randnSeeded([B, 1, 12, 12], 51);
    const x2 = randnSeeded([B, 1, 12, 12], 52);
    const indices = Int32Array.from([4, 0, 7, 4, 2, 8]); // image 4 twice: its row is updated twice, in order
    const before: Record<string, Tensor> = { queue: model.queue.tensor, x1, x2 };
    if (model.memoryBank) before.bank = model.memoryBank.tensor;
    for (const [k, t] of Object.entries(model.encoderQ.stateDict())) before[`query.${k}`] = t;
    for (const [k, t] of Object.entries(model.momentum.key.stateDict())) before[`key.${k}`] = t;
    const pre = await host(before);
    const ptr = model.queue.ptr;

    model.train();
    perms.length = 0;
    const out = model.step(x1, x2, 0, indices);
    out.loss.backward();

    assert.is(perms.length, c.mechanism === 'memory-bank' ? 0 : c.symmetric ? 2 : 1, 'key-batch permutations drawn');
    perms.forEach((p, i) => (pre[`perm${i}`] = { data: Float32Array.from(p), shape: [B] }));
    if (model.memoryBank) {
      pre.indices = { data: Float32Array.from(indices), shape: [B] };
      pre.sample = { data: Float32Array.from(model.memoryBank.lastSample!), shape: [K] };
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wgrad-losses-'));
    const [inFile, outFile] = [path.join(dir, 'in.safetensors'), path.join(dir, 'out.safetensors')];
    fs.writeFileSync(
      inFile,
      encodeSafetensors(pre, {
        width: String(width),
        in_channels: '1',
        splits: String(c.splits),
        dim: String(dim),
        m: String(m),
        T: String(T),
        ptr: String(ptr),
        loss: c.loss,
        mechanism: c.mechanism,
        symmetric: c.symmetric ? '1' : '0',
        bank_momentum: '0.5',
      }),
    );
    execFileSync(py, [path.join(import.meta.dirname, 'torch_losses_step.py'), inFile, outFile], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const ref = decodeSafetensors(new Uint8Array(fs.readFileSync(outFile))).tensors as Host;
    fs.rmSync(dir, { recursive: true });

    assertScaled([await out.loss.item()], ref.loss.data, 'loss');
    assert.is(await out.accuracy.item(), ref.accuracy.data[0], 'pretext accuracy');
    let checked = 0;
    for (const [name, p] of model.encoderQ.namedParameters()) {
      const r = ref[`grad.${name}`];
      assert.ok(r, `PyTorch has no gradient for ${name}`);
      assertScaled(await p.grad!.toArray(), r.data, `grad ${name}`);
      checked++;
    }
    assert.is(checked, Object.keys(ref).filter((k) => k.startsWith('grad.')).length, 'every PyTorch gradient was compared');
    if (c.mechanism === 'queue') {
      for (const [name, p] of model.momentum.key.namedParameters())
        assertScaled(await p.toArray(), ref[`key_after.${name}`].data, `key ${name}`);
      const enqueued = c.loss === 'infonce' ? B * (c.symmetric ? 2 : 1) : 0;
      assert.is(model.queue.ptr, (ptr + enqueued) % K, 'queue pointer');
      if (enqueued === 2 * B) assert.ok(ptr + enqueued > K, 'the symmetric enqueue wraps around');
      assertScaled(await model.queue.snapshot(), ref.queue_after.data, 'queue after the step');
    } else {
      // Neither the key encoder nor the queue takes part: both unchanged.
      for (const [name, p] of model.momentum.key.namedParameters())
        assert.equal(Array.from(await p.toArray()), Array.from(pre[`key.${name}`].data), `key ${name} untouched`);
      assert.equal(Array.from(await model.queue.snapshot()), Array.from(pre.queue.data), 'queue untouched');
    }
    if (model.memoryBank) assertScaled(await model.memoryBank.snapshot(), ref.bank_after.data, 'bank after the update');
    // BN running statistics after the step's forwards (end-to-end: both views through the query encoder).
    const buffers = [...model.encoderQ.namedBuffers()];
    assert.is(buffers.length, Object.keys(ref).filter((k) => k.startsWith('buffer.')).length, 'every running statistic compared');
    for (const [name, b] of buffers) assertScaled(await b.toArray(), ref[`buffer.${name}`].data, `buffer ${name}`);
    if (c.mechanism === 'queue') {
      for (const [name, b] of model.momentum.key.namedBuffers())
        assertScaled(await b.toArray(), ref[`key_buffer.${name}`].data, `key-buffer ${name}`);
    }
  });
}

test.after(() => {
  for (const [name, kinds] of worst) console.log(`  ${name}: ${[...kinds].map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', ')}`);
});

test.run();
