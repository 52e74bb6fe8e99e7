// nn.resnet50 against torchvision's layout: a random MoCo v2 ResNet-50 checkpoint in the official
// layout (made by PyTorch, test/nn/torch_moco_resnet50.py), converted by scripts/torch/convert.py
// backbone, loads strictly and gives PyTorch's eval-mode backbone features to 1e-4.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { setup, assertClose } from '../helpers.ts';
import { findPythonWithTorch } from '../io/python.ts';
import { skip } from '../skip.ts';
import { nn, noGrad, loadSafetensors } from '../../src/index.ts';
import { decodeSafetensors } from '../../src/io/safetensors.ts';
import { fromArray } from '../../src/ops/creation-internal.ts';

test.before(setup);

const ROOT = path.join(import.meta.dirname, '../..');

test('nn.resnet50: structure and feature size', () => {
  const net = nn.resnet50();
  assert.is(net.featureDim, 2048);
  const params = net.parameters().reduce((n, p) => n + p.size, 0);
  assert.is(params, 23_508_032, 'torchvision resnet50 without fc has 23,508,032 parameters');
  assert.ok(net.layer3.children().length === 6 && net.layer1.children()[0] instanceof nn.Bottleneck);
  for (const p of net.parameters()) p.dispose();
});

test('official-layout MoCo v2 ResNet-50 (random weights) → convert.py backbone → same features as PyTorch', async () => {
  const py = findPythonWithTorch();
  if (!py) return skip('no python3 with torch (apt-get install python3-torch)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wgrad-r50-'));
  try {
    const [ckpt, feats, weights] = ['moco_v2_random.pth.tar', 'features.safetensors', 'resnet50.safetensors'].map((f) => path.join(dir, f));
    const run = (args: string[]) => {
      const r = spawnSync(py, args, { encoding: 'utf8', timeout: 300_000 });
      assert.ok(r.status === 0, `${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
    };
    run([path.join(import.meta.dirname, 'torch_moco_resnet50.py'), ckpt, feats, '2', '32']);
    run([path.join(ROOT, 'scripts/torch/convert.py'), 'backbone', ckpt, weights]);
    const ref = decodeSafetensors(new Uint8Array(fs.readFileSync(feats))).tensors;
    const net = nn.resnet50();
    const { tensors } = await loadSafetensors(weights);
    const res = net.loadStateDict(tensors); // strict: every name of torchvision's layout, nothing else
    assert.is(res.missingKeys.length + res.unexpectedKeys.length, 0);
    for (const t of Object.values(tensors)) t.dispose();
    net.eval();
    const f = noGrad(() => net.forward(fromArray(ref.images.data, ref.images.shape)));
    assert.equal(f.shape, [2, 2048]);
    const got = await f.toArray();
    const maxRef = Math.max(...ref.features.data.map(Math.abs));
    assert.ok(maxRef > 0.05, `features should not vanish (max |f| ${maxRef})`);
    assertClose(got, ref.features.data, 1e-4, 'ResNet-50 features');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
