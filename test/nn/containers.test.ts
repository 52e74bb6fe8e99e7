// Modules kept in arrays, plain objects, nn.ModuleList and nn.ModuleDict (PyTorch's habit) are
// registered with PyTorch's dotted names, checked against torch's own state_dict keys and repr;
// they train (an SGD step moves their weights) and round-trip through state dicts; a Map, Set or
// class instance holding modules is refused with an error instead of being silently skipped.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { skip } from '../skip.ts';
import { Tensor, nn, optim, randn, tensor, crossEntropy, manualSeed } from '../../src/index.ts';
import { setup, throwsWith } from '../helpers.ts';
import { runPython, findPythonWithTorch } from '../io/python.ts';

test.before(setup);

class ArrayNet extends nn.Module {
  layers = [new nn.Linear(4, 8), new nn.Linear(8, 3)];
  heads = { cls: new nn.Linear(3, 2), aux: [new nn.Linear(3, 1)] };
  forward(x: Tensor): Tensor {
    for (const l of this.layers) x = l.forward(x).relu();
    return this.heads.cls.forward(x);
  }
}

class ListNet extends nn.Module {
  blocks = new nn.ModuleList([new nn.Sequential(new nn.Linear(4, 4), new nn.ReLU()), new nn.Linear(4, 2)]);
  heads = new nn.ModuleDict({ cls: new nn.Linear(2, 2) });
  forward(x: Tensor): Tensor {
    for (const b of this.blocks) x = b.forward(x);
    return this.heads.get('cls').forward(x);
  }
}

const TORCH_TWINS = `
import json, torch.nn as nn
class ArrayNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(4, 8), nn.Linear(8, 3)])
        self.heads = nn.ModuleDict({'cls': nn.Linear(3, 2), 'aux': nn.ModuleList([nn.Linear(3, 1)])})
class ListNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([nn.Sequential(nn.Linear(4, 4), nn.ReLU()), nn.Linear(4, 2)])
        self.heads = nn.ModuleDict({'cls': nn.Linear(2, 2)})
out = {}
for m in [ArrayNet(), ListNet()]:
    out[type(m).__name__] = {'keys': list(m.state_dict().keys()), 'modules': [n for n, _ in m.named_modules()], 'repr': repr(m)}
print(json.dumps(out))
`;

test('arrays and plain objects of modules are children with dotted names (layers.0.weight)', () => {
  const m = new ArrayNet();
  assert.equal(Object.keys(m.stateDict()), [
    'layers.0.weight',
    'layers.0.bias',
    'layers.1.weight',
    'layers.1.bias',
    'heads.cls.weight',
    'heads.cls.bias',
    'heads.aux.0.weight',
    'heads.aux.0.bias',
  ]);
  assert.is(m.parameters().length, 8);
  assert.equal(
    [...m.namedModules()].map(([k]) => k),
    ['', 'layers', 'layers.0', 'layers.1', 'heads', 'heads.cls', 'heads.aux', 'heads.aux.0'],
  );
  // The container is seen live: a layer pushed later is found too.
  m.layers.push(new nn.Linear(3, 3));
  assert.ok(Object.keys(m.stateDict()).includes('layers.2.weight'));
  m.eval();
  assert.is(m.layers[0].training, false, 'eval() reaches layers inside an array');
});

test('names, module paths and repr match PyTorch (ModuleList / ModuleDict twins)', () => {
  const python = findPythonWithTorch();
  if (!python) {
    return skip('no python3 with torch (bash scripts/setup.sh --with-python installs python3-torch)');
  }
  const ref = JSON.parse(runPython(python, TORCH_TWINS)) as Record<string, { keys: string[]; modules: string[]; repr: string }>;
  for (const m of [new ArrayNet(), new ListNet()]) {
    const r = ref[m.constructor.name];
    assert.equal(Object.keys(m.stateDict()), r.keys, `${m.constructor.name} state dict keys`);
    assert.equal(
      [...m.namedModules()].map(([k]) => k),
      r.modules,
      `${m.constructor.name} module paths`,
    );
  }
  assert.is(new ListNet().toString(), ref.ListNet.repr, 'repr of ModuleList / ModuleDict');
});

test('layers in a list train: an SGD step moves every weight, and the state dict round-trips', async () => {
  manualSeed(3);
  const m = new ListNet();
  const opt = new optim.SGD(m.parameters(), { lr: 0.5 });
  const before = await Promise.all(m.parameters().map((p) => p.toArray()));
  const loss = crossEntropy(m.forward(randn([8, 4])), tensor([0, 1, 0, 1, 1, 0, 1, 0], { dtype: 'int32' }));
  opt.zeroGrad();
  loss.backward();
  opt.step();
  const after = await Promise.all(m.parameters().map((p) => p.toArray()));
  after.forEach((a, i) =>
    assert.ok(
      a.some((v, j) => v !== before[i][j]),
      `parameter ${i} did not move`,
    ),
  );
  const copy = new ListNet();
  copy.loadStateDict(m.stateDict());
  const x = randn([3, 4]);
  assert.equal(await copy.forward(x).toArray(), await m.forward(x).toArray());
});

test('a Map, Set or class instance holding modules is refused, naming where and what to do', () => {
  class MapNet extends nn.Module {
    blocks = new Map([['a', new nn.Linear(2, 2)]]);
    forward(x: Tensor): Tensor {
      return x;
    }
  }
  class Holder {
    inner = new nn.Linear(2, 2);
  }
  class HolderNet extends nn.Module {
    holder = new Holder();
    forward(x: Tensor): Tensor {
      return x;
    }
  }
  throwsWith(() => new MapNet().parameters(), 'MapNet.blocks is a Map holding modules', 'blocks.get("a") is a Linear', 'nn.ModuleList');
  throwsWith(() => new HolderNet().stateDict(), 'HolderNet.holder is a Holder instance holding modules', 'holder.inner');
  class SetNet extends nn.Module {
    parts = new Set([new nn.Linear(2, 2)]);
    forward(x: Tensor): Tensor {
      return x;
    }
  }
  throwsWith(() => new SetNet().parameters(), 'SetNet.parts is a Set holding modules');
  class SetInList extends nn.Module {
    parts = [new Set([new nn.Linear(2, 2)])];
    forward(x: Tensor): Tensor {
      return x;
    }
  }
  throwsWith(() => new SetInList().parameters(), 'SetInList.parts[0] is a Set holding modules');
});

test('ModuleList / ModuleDict accessors and their errors', () => {
  const list = new nn.ModuleList([new nn.Linear(2, 2)]).append(new nn.ReLU());
  assert.is(list.length, 2);
  assert.ok(list.at(-1) instanceof nn.ReLU);
  throwsWith(() => list.at(5), 'index 5 is out of range for 2 modules');
  throwsWith(() => list.forward(), 'ModuleList has no forward()');
  const dict = new nn.ModuleDict({ a: new nn.Linear(2, 2) });
  throwsWith(() => dict.get('b'), "no module 'b'", 'keys: a');
  assert.equal(dict.keys(), ['a']);
});

test.run();
