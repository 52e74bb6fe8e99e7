// A pre-norm transformer block (LayerNorm → multi-head self-attention → residual → LayerNorm →
// MLP with GELU → residual) in wgrad against the same block in PyTorch (torch.nn.LayerNorm,
// MultiheadAttention, Linear, GELU, float64) with the same weights: the output and the gradient of
// every parameter and of the input agree to 1e-4, with and without a causal mask.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { nn, gelu, Tensor } from '../../src/index.ts';
import { Generator } from '../../src/random.ts';
import { setup, randnSeeded, assertClose } from '../helpers.ts';
import { findPythonWithTorch, runPython } from '../io/python.ts';

test.before(setup);

class Block extends nn.Module {
  norm1: nn.LayerNorm;
  attn: nn.MultiheadAttention;
  norm2: nn.LayerNorm;
  fc1: nn.Linear;
  fc2: nn.Linear;
  constructor(
    readonly dim: number,
    heads: number,
    hidden: number,
    readonly causal: boolean,
    g: Generator,
  ) {
    super();
    this.norm1 = new nn.LayerNorm(dim);
    this.norm2 = new nn.LayerNorm(dim);
    this.attn = new nn.MultiheadAttention(dim, heads, { batchFirst: true, generator: g });
    this.fc1 = new nn.Linear(dim, hidden, { generator: g });
    this.fc2 = new nn.Linear(hidden, dim, { generator: g });
  }
  forward(x: Tensor): Tensor {
    const h = this.norm1.forward(x);
    const y = x.add(this.attn.attend(h, h, h, { isCausal: this.causal }));
    return y.add(this.fc2.forward(gelu(this.fc1.forward(this.norm2.forward(y)))));
  }
}

for (const causal of [false, true]) {
  test(`transformer block output and every gradient match PyTorch (${causal ? 'causal' : 'full'} attention)`, async () => {
    const py = findPythonWithTorch();
    if (!py) {
      console.log('skipped: no python3 with torch (apt-get install python3-torch)');
      return;
    }
    const [N, L, D, H, F] = [2, 5, 12, 3, 20];
    const g = new Generator(21);
    const block = new Block(D, H, F, causal, g);
    // Non-trivial LayerNorm affine parameters and attention biases (PyTorch initialises them to 1 / 0).
    for (const [name, p] of block.namedParameters()) {
      if (/norm|bias/.test(name)) p.writeData(Array.from({ length: p.size }, () => 0.5 + 0.5 * g.normal()));
    }
    const x = randnSeeded([N, L, D], 22).requiresGrad_();
    const w = randnSeeded([N, L, D], 23); // loss = Σ out · w
    const out = block.forward(x);
    out.mul(w).sum().backward();
    const state: Record<string, { data: number[]; shape: number[] }> = {};
    for (const [name, p] of block.namedParameters()) state[name] = { data: Array.from(await p.toArray()), shape: [...p.shape] };
    const script = `
import json, sys, torch
torch.set_default_dtype(torch.float64)
a = json.loads(sys.stdin.read())
N, L, D, H, F = ${N}, ${L}, ${D}, ${H}, ${F}
class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = torch.nn.LayerNorm(D); self.attn = torch.nn.MultiheadAttention(D, H, batch_first=True)
        self.norm2 = torch.nn.LayerNorm(D); self.fc1 = torch.nn.Linear(D, F); self.fc2 = torch.nn.Linear(F, D)
    def forward(self, x, mask):
        h = self.norm1(x)
        y = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return y + self.fc2(torch.nn.functional.gelu(self.fc1(self.norm2(y))))
b = Block()
b.load_state_dict({k: torch.tensor(v['data']).reshape(v['shape']) for k, v in a['state'].items()})
x = torch.tensor(a['x']).reshape(N, L, D).requires_grad_()
w = torch.tensor(a['w']).reshape(N, L, D)
mask = torch.triu(torch.full((L, L), float('-inf')), 1) if a['causal'] else None
out = b(x, mask)
(out * w).sum().backward()
print(json.dumps({'out': out.flatten().tolist(), 'x': x.grad.flatten().tolist(),
                  'grads': {k: p.grad.flatten().tolist() for k, p in b.named_parameters()}}))`;
    const input = JSON.stringify({ state, x: Array.from(await x.toArray()), w: Array.from(await w.toArray()), causal });
    const r = JSON.parse(runPython(py, `import sys, io\nsys.stdin = io.StringIO(${JSON.stringify(input)})\n` + script)) as {
      out: number[];
      x: number[];
      grads: Record<string, number[]>;
    };
    assertClose(await out.toArray(), r.out, 1e-4, 'output');
    assertClose(await x.grad!.toArray(), r.x, 1e-4, 'input gradient');
    const names = [...block.namedParameters()].map(([n]) => n);
    assert.equal(names.sort(), Object.keys(r.grads).sort(), 'same parameters');
    for (const [name, p] of block.namedParameters()) assertClose(await p.grad!.toArray(), r.grads[name], 1e-4, `gradient of ${name}`);
  });
}

test.run();
