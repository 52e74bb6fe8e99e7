// Issue 15, library half: NaN is never clamped into a number (normalize, maximum, minimum, the
// memory bank's update, all checked against PyTorch), in-place updates keep their target's shape
// (momentumUpdate, mapInto), and a tensor named "__proto__" survives a save and a load.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { skip } from '../skip.ts';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.ts';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import {
  tensor,
  normalize,
  maximum,
  minimum,
  clamp,
  nn,
  saveSafetensors,
  loadSafetensors,
  saveCheckpoint,
  loadCheckpoint,
  ones,
} from '../../src/index.ts';
import { momentumUpdate, cloneModule } from '../../src/moco/momentum.ts';
import { mapInto } from '../../src/ops/map.ts';
import { MemoryBank } from '../../src/moco/memory-bank.ts';
import { setup } from '../helpers.ts';
import { findPythonWithTorch, runPython } from '../io/python.ts';

test.before(setup);

const dir = mkdtempSync(join(tmpdir(), 'wgrad-untrusted-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const show = (a: ArrayLike<number>) => Array.from(a, (v) => (Number.isNaN(v) ? 'nan' : Number(v.toFixed(4))));

test('normalize, maximum, minimum propagate NaN as PyTorch does', async () => {
  const got = {
    normalize: show(
      await normalize(
        tensor([
          [NaN, 1],
          [3, 4],
        ]),
        1,
      ).toArray(),
    ),
    clampMin: show(await tensor([NaN, 1, -2]).maximum(0).toArray()),
    clampMax: show(await tensor([NaN, 1, -2]).minimum(0).toArray()),
    maximum: show(await maximum(tensor([NaN, 1, 5]), tensor([0, NaN, 2])).toArray()),
    minimum: show(await minimum(tensor([NaN, 1, 5]), tensor([0, NaN, 2])).toArray()),
    clamp: show(await clamp(tensor([NaN, -3, 0.5, 3]), 0, 1).toArray()),
  };
  // What PyTorch gives (checked below when python3-torch is present).
  const want = {
    normalize: ['nan', 'nan', 0.6, 0.8],
    clampMin: ['nan', 1, 0],
    clampMax: ['nan', 0, -2],
    maximum: ['nan', 'nan', 5],
    minimum: ['nan', 'nan', 2],
    clamp: ['nan', 0, 0.5, 1],
  };
  assert.equal(got, want);
  const python = findPythonWithTorch();
  if (python === null) {
    return skip('no python3 with torch (bash scripts/setup.sh --with-python installs python3-torch)');
  }
  const out = runPython(
    python,
    `
import json, torch, torch.nn.functional as F
nan = float('nan')
x = torch.tensor([nan, 1., -2.])
a, b = torch.tensor([nan, 1., 5.]), torch.tensor([0., nan, 2.])
r = {'normalize': F.normalize(torch.tensor([[nan, 1.], [3., 4.]]), dim=1).flatten(), 'clampMin': x.clamp_min(0),
     'clampMax': x.clamp_max(0), 'clamp': torch.tensor([nan, -3., .5, 3.]).clamp(0, 1), 'maximum': torch.maximum(a, b), 'minimum': torch.minimum(a, b)}
print(json.dumps({k: ['nan' if v != v else round(v, 4) for v in t.tolist()] for k, t in r.items()}))
`,
  );
  assert.equal(JSON.parse(out), want);
});

test('the memory bank update keeps a NaN row NaN instead of scaling it by 1/eps', async () => {
  const bank = new MemoryBank({ size: 2, dim: 2 });
  bank.update([1], tensor([[NaN, 1]]));
  const rows = show(await bank.snapshot());
  assert.equal(rows.slice(2), ['nan', 'nan']);
  bank.dispose();
});

test('momentumUpdate refuses modules of different shapes, naming the parameter', () => {
  assert.throws(
    () => momentumUpdate(new nn.Linear(4, 2), new nn.Linear(4, 3), 0.9),
    (e: Error) =>
      e.message ===
      "momentumUpdate: parameter 'weight' has shape [2, 4] in the key encoder but [3, 4] in the query encoder; the key encoder must be a copy of the query encoder (cloneModule)",
  );
  assert.throws(
    () => momentumUpdate(new nn.Linear(1, 2), new nn.Linear(4, 2), 0.9),
    /'weight' has shape \[2, 1\] in the key encoder but \[2, 4\]/,
  );
  const q = new nn.Linear(4, 2);
  assert.throws(() => momentumUpdate(cloneModule(q), q, 1.5), /momentum must be in \[0, 1\] \(got 1.5\)/);
});

test('an in-place update refuses an input that does not broadcast to its target', async () => {
  const key = ones([2, 4]);
  assert.throws(
    () => mapInto(key, [key, tensor([[1], [2], [3]])], 'x0 + x1', 'update'),
    (e: Error) => e.message.startsWith('update: an input of shape [3, 1] cannot be written into a tensor of shape [2, 4]'),
  );
  assert.throws(
    () => mapInto(ones([2]), [ones([2, 2])], 'x0', 'copy'),
    /input of shape \[2, 2\] cannot be written into a tensor of shape \[2\]/,
  );
  mapInto(key, [key, tensor([[1], [2]])], 'x0 + x1', 'update'); // broadcasting into the target is fine, as add_
  assert.equal(Array.from(await key.toArray()), [2, 2, 2, 2, 3, 3, 3, 3]);
});

test('a tensor named "__proto__" survives saveSafetensors / loadSafetensors and checkpoints', async () => {
  const file = join(dir, 'proto.safetensors');
  const named: Record<string, ReturnType<typeof tensor>> = Object.create(null);
  named['__proto__'] = tensor([1, 2]);
  named['constructor'] = tensor([3]);
  await saveSafetensors(file, named);
  const { tensors } = await loadSafetensors(file);
  assert.equal(Object.keys(tensors).sort(), ['__proto__', 'constructor']);
  assert.equal(Array.from(await tensors['__proto__'].toArray()), [1, 2]);
  assert.equal(Array.from(await tensors['constructor'].toArray()), [3]);
  const ckpt = join(dir, 'proto-ckpt.safetensors');
  await saveCheckpoint(ckpt, { tensors: named });
  const loaded = await loadCheckpoint(ckpt);
  assert.equal(Object.keys(loaded.tensors).sort(), ['__proto__', 'constructor']);
  assert.equal(Array.from(await loaded.tensors['__proto__'].toArray()), [1, 2]);
});

test('loadCheckpoint names the file and the key of bad metadata; Generator.setState refuses a wrong state', async () => {
  const file = join(dir, 'meta.safetensors');
  const model = new nn.Linear(2, 1);
  await saveCheckpoint(file, { model, epoch: 3, config: { lr: 0.1 } });
  const good = readFileSync(file);
  const broken = async (key: string, value: string | undefined) => {
    const { tensors, metadata } = decodeSafetensors(good);
    if (value === undefined) delete metadata[key];
    else metadata[key] = value;
    writeFileSync(file, encodeSafetensors(tensors, metadata));
    try {
      await loadCheckpoint(file, { model });
    } catch (e) {
      return (e as Error).message;
    }
    return 'no error';
  };
  // (JSON.parse's own wording differs between Node versions.)
  assert.match(
    await broken('wgrad.epoch', 'abc'),
    /^loadCheckpoint: metadata "wgrad\.epoch" is not valid JSON \(.+\) \(in ".+meta\.safetensors"\)$/,
  );
  assert.is(await broken('wgrad.epoch', '-5'), `loadCheckpoint: metadata "wgrad.epoch" is -5; expected an integer >= 0 (in "${file}")`);
  assert.is(await broken('wgrad.epoch', '1.5'), `loadCheckpoint: metadata "wgrad.epoch" is 1.5; expected an integer >= 0 (in "${file}")`);
  assert.is(
    await broken('wgrad.rng', '{"default":[]}'),
    `Generator.setState: expected [hi, lo] (integers in 0..2^32-1) and an optional finite spare normal, as getState() returns; got [] (in "${file}")`,
  );
  assert.is(
    await broken('wgrad.rng', undefined),
    `loadCheckpoint: no state for generator "default" in the checkpoint (it has: none) (in "${file}")`,
  );
  assert.match(
    await broken('wgrad.config', '{'),
    /^loadCheckpoint: metadata "wgrad\.config" is not valid JSON \(.+\) \(in ".+meta\.safetensors"\)$/,
  );
});

test.run();
