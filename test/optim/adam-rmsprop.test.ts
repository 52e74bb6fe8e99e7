// Adam (L2 weight decay) and RMSprop (momentum, centered, weight decay): trajectories over several
// steps of a real backward pass against a float64 implementation of PyTorch's formulas
// (test/optim/reference.ts) and against torch.optim itself; one dispatch per parameter; state dicts.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tensor, tensor, keep, tidy, stats, optim } from '../../src/index.ts';
import { Generator } from '../../src/random.ts';
import { setup } from '../helpers.ts';
import { findPythonWithTorch } from '../io/python.ts';
import { adamStep, adamwStep, maxRelDiff, rmspropStep, type AdamWRef, type RMSpropRef } from './reference.ts';

test.before(setup);

const STEPS = 7;
const N = 12;

/** loss = Σ c·p² + d·p (grad 2c·p + d), one problem per seed. */
function problem(seed: number) {
  const g = new Generator(seed);
  const f = (k: () => number) => Float32Array.from({ length: N }, k);
  return { p0: f(() => g.normal()), c: f(() => 0.5 + g.uniform()), d: f(() => g.normal()) };
}
type Problem = ReturnType<typeof problem>;

async function runGpu(pr: Problem, make: (ps: Tensor[]) => optim.Optimizer<any>): Promise<Float32Array> {
  const p = keep(tensor(pr.p0, [3, 4], { requiresGrad: true }));
  const opt = make([p]);
  for (let s = 0; s < STEPS; s++) {
    opt.zeroGrad();
    tidy(() =>
      p
        .mul(p)
        .mul(tensor(pr.c, [3, 4]))
        .add(p.mul(tensor(pr.d, [3, 4])))
        .sum()
        .backward(),
    );
    opt.step();
  }
  const out = await p.toArray();
  opt.disposeState();
  p.zeroGrad();
  p.dispose();
  return out;
}

function runRef(pr: Problem, step: (p: Float64Array, g: Float64Array) => void): Float64Array {
  const p = Float64Array.from(pr.p0);
  for (let s = 0; s < STEPS; s++)
    step(
      p,
      Float64Array.from(p, (v, i) => 2 * pr.c[i] * v + pr.d[i]),
    );
  return p;
}

const ADAM_CASES: AdamWRef[] = [
  { lr: 0.01 },
  { lr: 0.05, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1 },
  { lr: 0.02, weightDecay: 0.01 },
];
const RMS_CASES: RMSpropRef[] = [
  {},
  { lr: 0.005, alpha: 0.9 },
  { lr: 0.01, momentum: 0.9 },
  { lr: 0.01, centered: true },
  { lr: 0.003, alpha: 0.95, eps: 1e-6, weightDecay: 0.05, momentum: 0.5, centered: true },
];

const newAdam = (o: AdamWRef) => (ps: Tensor[]) => new optim.Adam(ps, o);
const newRms = (o: RMSpropRef) => (ps: Tensor[]) => new optim.RMSprop(ps, o);

test('Adam: L2 weight decay and bias correction follow PyTorch formulas over 7 steps (float64 reference)', async () => {
  for (const [k, o] of ADAM_CASES.entries()) {
    const pr = problem(70 + k);
    const st = { step: 0, m: new Float64Array(N), v: new Float64Array(N) };
    const gpu = await runGpu(pr, newAdam(o));
    const err = maxRelDiff(
      gpu,
      runRef(pr, (p, g) => adamStep(p, g, o, st)),
    );
    assert.ok(err < 1e-6, `Adam ${JSON.stringify(o)}: max relative error ${err}`);
    assert.ok(maxRelDiff(gpu, pr.p0) > 0.01, `Adam ${JSON.stringify(o)}: parameters barely moved`);
  }
  // With weight decay, Adam and AdamW differ (L2 in the moments vs decoupled): the test can tell them apart.
  const pr = problem(79);
  const o = { lr: 0.05, weightDecay: 0.5 };
  const st = { step: 0, m: new Float64Array(N), v: new Float64Array(N) };
  const adamw = runRef(pr, (p, g) => adamwStep(p, g, o, st));
  assert.ok(maxRelDiff(await runGpu(pr, newAdam(o)), adamw) > 1e-3, 'Adam must not behave as AdamW');
});

test('RMSprop: alpha, momentum, centered, weight decay follow PyTorch formulas over 7 steps (float64 reference)', async () => {
  for (const [k, o] of RMS_CASES.entries()) {
    const pr = problem(80 + k);
    const st = { sq: new Float64Array(N), ga: new Float64Array(N), buf: new Float64Array(N) };
    const gpu = await runGpu(pr, newRms(o));
    const err = maxRelDiff(
      gpu,
      runRef(pr, (p, g) => rmspropStep(p, g, o, st)),
    );
    assert.ok(err < 1e-5, `RMSprop ${JSON.stringify(o)}: max relative error ${err}`);
    assert.ok(maxRelDiff(gpu, pr.p0) > 0.01, `RMSprop ${JSON.stringify(o)}: parameters barely moved`);
  }
});

test('Adam and RMSprop agree with torch.optim (float32) on the same problems', async () => {
  const py = findPythonWithTorch();
  if (!py) {
    console.log('skipped: torch cross-check (no /usr/bin/python3 with torch)');
    return;
  }
  const cases = [
    ...ADAM_CASES.map((o, k) => ({ kind: 'adam', o: o as object, pr: problem(70 + k) })),
    ...RMS_CASES.map((o, k) => ({ kind: 'rmsprop', o: o as object, pr: problem(80 + k) })),
  ];
  const script = `
import json, sys, torch
out = []
for c in json.loads(sys.stdin.readline()):
    p = torch.tensor(c['p0'], dtype=torch.float32).reshape(3, 4).requires_grad_(True)
    cc = torch.tensor(c['c'], dtype=torch.float32).reshape(3, 4)
    d = torch.tensor(c['d'], dtype=torch.float32).reshape(3, 4)
    o = c['o']
    if c['kind'] == 'adam':
        opt = torch.optim.Adam([p], lr=o['lr'], betas=tuple(o.get('betas', (0.9, 0.999))), eps=o.get('eps', 1e-8),
                               weight_decay=o.get('weightDecay', 0), foreach=False)
    else:
        opt = torch.optim.RMSprop([p], lr=o.get('lr', 0.01), alpha=o.get('alpha', 0.99), eps=o.get('eps', 1e-8),
                                  weight_decay=o.get('weightDecay', 0), momentum=o.get('momentum', 0),
                                  centered=o.get('centered', False), foreach=False)
    for _ in range(${STEPS}):
        opt.zero_grad()
        (p * p * cc + p * d).sum().backward()
        opt.step()
    out.append(p.detach().reshape(-1).tolist())
print(json.dumps(out))
`;
  const { spawnSync } = await import('node:child_process');
  const input = JSON.stringify(cases.map((c) => ({ kind: c.kind, o: c.o, p0: [...c.pr.p0], c: [...c.pr.c], d: [...c.pr.d] })));
  const r = spawnSync(py, ['-c', script], { input: input + '\n', encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const torchOut = JSON.parse(r.stdout) as number[][];
  for (const [k, c] of cases.entries()) {
    const gpu = await runGpu(c.pr, c.kind === 'adam' ? newAdam(c.o as AdamWRef) : newRms(c.o as RMSpropRef));
    const err = maxRelDiff(gpu, torchOut[k]);
    assert.ok(err < 1e-5, `${c.kind} ${JSON.stringify(c.o)} vs torch: max relative error ${err}`);
  }
});

test('one dispatch per parameter; state dict round trip continues identically', async () => {
  const ps = [0, 1].map((k) => keep(tensor(problem(90 + k).p0, [3, 4], { requiresGrad: true })));
  for (const make of [newAdam({ lr: 0.01, weightDecay: 0.1 }), newRms({ momentum: 0.9, centered: true }), newRms({})]) {
    const opt = make(ps);
    tidy(() => ps[0].mul(ps[1]).sum().backward());
    opt.step();
    const before = stats().dispatches;
    opt.step();
    assert.is(stats().dispatches - before, 2, `${opt.name}: one dispatch per parameter`);
    // Restore into a fresh optimizer over clones and step both: identical parameters.
    const saved = opt.stateDict();
    const clones = ps.map((p) => keep(p.detach().clone().requiresGrad_()));
    clones.forEach((q, i) => (q.grad = keep(ps[i].grad!.clone())));
    const restored = make(clones);
    restored.loadStateDict(saved);
    opt.step();
    restored.step();
    for (const [i, p] of ps.entries())
      assert.equal(await clones[i].toArray(), await p.toArray(), `${opt.name}: parameter ${i} after restore`);
    opt.zeroGrad();
    restored.disposeState();
    opt.disposeState();
    for (const q of clones) {
      q.zeroGrad();
      q.dispose();
    }
  }
  for (const p of ps) p.dispose();
});

test('invalid hyper-parameters are refused with the value named', () => {
  const p = tensor([1], undefined, { requiresGrad: true });
  assert.throws(() => new optim.Adam([p], { betas: [1, 0.9] }), /Adam: invalid betas \[1,0.9\]/);
  assert.throws(() => new optim.RMSprop([p], { alpha: 2 }), /RMSprop: invalid alpha 2/);
  assert.throws(() => new optim.RMSprop([p], { momentum: -1 }), /RMSprop: invalid momentum -1/);
});

test.run();
