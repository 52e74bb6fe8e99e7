// Numeric parity of a whole network: SmallConvNet (width 4, batch 4, 28×28, training-mode
// BatchNorm) forward output, crossEntropy loss, every parameter gradient and the updated running
// statistics against a float64 PyTorch run of its twin (test/nn/torch_models.py) with the same
// weights and inputs; plus the forward against wgrad's own float64 reference replay.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { skip } from '../skip.ts';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Tensor, tensor, randn, manualSeed, crossEntropy, nn, saveSafetensors, Generator } from '../../src/index.ts';
import { compareForward } from '../../src/autograd/gradcheck.ts';
import { setup } from '../helpers.ts';
import { findPythonWithNumpy, runPython, findPythonWithTorch } from '../io/python.ts';

test.before(setup);

const HERE = dirname(fileURLToPath(import.meta.url));

function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    err = Math.max(err, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return err / Math.max(scale, 1e-30);
}

function makeCase() {
  manualSeed(21);
  const net = new nn.SmallConvNet({ width: 4, numClasses: 10 });
  const x = randn([4, 1, 28, 28], { generator: new Generator(5) });
  const y = tensor([3, 0, 9, 3], undefined, { dtype: 'int32' });
  return { net, x, y };
}

test('forward matches the float64 reference replay of the recorded graph', async () => {
  const { net, x } = makeCase();
  // The network's parameters enter the graph as constants; x is the input replayed in float64.
  const r = await compareForward((xi) => net.forward(xi), [x]);
  assert.ok(r.maxRelError < 1e-4, `max relative error ${r.maxRelError}`);
});

test('logits, loss, all gradients and running statistics match PyTorch (float64)', async () => {
  const python = findPythonWithNumpy();
  const hasTorch = findPythonWithTorch() !== null;
  if (!hasTorch) {
    return skip('no python3 with torch (bash scripts/setup.sh --with-python installs python3-torch)');
  }
  const { net, x, y } = makeCase();
  const dir = mkdtempSync(join(tmpdir(), 'wgrad-parity-'));
  try {
    const path = join(dir, 'case.safetensors');
    const inputs: Record<string, Tensor> = { x, y };
    for (const [k, t] of Object.entries(net.stateDict())) inputs[`model.${k}`] = t;
    await saveSafetensors(path, inputs); // before the forward: the initial running statistics
    const logits = net.forward(x);
    const loss = crossEntropy(logits, y);
    loss.backward();
    const script = `
import sys, json, struct
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[1])
import numpy as np, torch
import torch_models as tm
raw = open(sys.argv[2], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
header = json.loads(raw[8:8 + n]); header.pop('__metadata__', None)
t = {k: torch.from_numpy(np.frombuffer(raw[8 + n + v['data_offsets'][0]:8 + n + v['data_offsets'][1]], dtype='<i4' if v['dtype'] == 'I32' else '<f4').reshape(v['shape']).astype(np.float64)) for k, v in header.items()}
net = tm.SmallConvNet(width=4, num_classes=10).double()
net.load_state_dict({k[6:]: v for k, v in t.items() if k.startswith('model.')}, strict=False)
net.train()
logits = net(t['x'])
loss = torch.nn.functional.cross_entropy(logits, t['y'].long())
loss.backward()
out = {'logits': logits.detach().reshape(-1).tolist(), 'loss': loss.item(),
       'grads': {k: p.grad.reshape(-1).tolist() for k, p in net.named_parameters()},
       'buffers': {k: b.reshape(-1).tolist() for k, b in net.named_buffers() if not k.endswith('num_batches_tracked')}}
print(json.dumps(out))
`;
    const ref = JSON.parse(runPython(python!, script, [HERE, path])) as {
      logits: number[];
      loss: number;
      grads: Record<string, number[]>;
      buffers: Record<string, number[]>;
    };
    const e = relErr(await logits.toArray(), ref.logits);
    assert.ok(e < 1e-4, `logits: relative error ${e}`);
    const l = await loss.item();
    assert.ok(Math.abs(l - ref.loss) < 1e-4 * Math.abs(ref.loss), `loss ${l} vs ${ref.loss}`);
    const named = [...net.namedParameters()];
    assert.equal(
      named.map(([k]) => k),
      Object.keys(ref.grads),
      'same parameters',
    );
    for (const [k, p] of named) {
      assert.ok(p.grad, `${k} has a gradient`);
      const g = relErr(await p.grad!.toArray(), ref.grads[k]);
      assert.ok(g < 1e-4, `gradient of ${k}: relative error ${g}`);
    }
    for (const [k, b] of net.namedBuffers()) {
      const err = relErr(await b.toArray(), ref.buffers[k]);
      assert.ok(err < 1e-5, `buffer ${k}: relative error ${err}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
