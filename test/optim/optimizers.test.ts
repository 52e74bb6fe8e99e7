// SGD and AdamW: trajectories over several steps of a real backward pass against a float64 CPU
// implementation of PyTorch's formulas (test/optim/reference.ts) and against torch itself (run
// with /usr/bin/python3 when it has torch); parameter groups; one dispatch per parameter;
// state dicts; argument errors.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { skip } from '../skip.ts';
import { Tensor, tensor, keep, tidy, stats, optim } from '../../src/index.ts';
import { Generator } from '../../src/random.ts';
import { setup } from '../helpers.ts';
import { findPythonWithNumpy, runPython, findPythonWithTorch } from '../io/python.ts';
import { adamwStep, maxRelDiff, sgdStep, type AdamWRef, type SgdRef } from './reference.ts';

test.before(setup);

const STEPS = 6;

/** A quadratic problem: loss = Σ c·p² + d·p, so grad = 2c·p + d. */
function problem(seed: number, n = 12) {
  const g = new Generator(seed);
  const p0 = Float32Array.from({ length: n }, () => g.normal());
  const c = Float32Array.from({ length: n }, () => 0.5 + g.uniform());
  const d = Float32Array.from({ length: n }, () => g.normal());
  return { p0, c, d };
}
type Problem = ReturnType<typeof problem>;

function lossOf(p: Tensor, pr: Problem): Tensor {
  const c = tensor(pr.c, p.shape);
  const d = tensor(pr.d, p.shape);
  return p.mul(p).mul(c).add(p.mul(d)).sum();
}

function refGrad(p: Float64Array, pr: Problem): Float64Array {
  return Float64Array.from(p, (v, i) => 2 * pr.c[i] * v + pr.d[i]);
}

/** Runs `steps` optimizer steps on the GPU; returns the final parameters of each problem. */
async function runGpu(problems: Problem[], make: (ps: Tensor[]) => optim.Optimizer<any>, steps = STEPS): Promise<Float32Array[]> {
  const ps = problems.map((pr) => keep(tensor(pr.p0, [3, 4], { requiresGrad: true })));
  const opt = make(ps);
  for (let s = 0; s < steps; s++) {
    opt.zeroGrad();
    tidy(() =>
      problems
        .map((pr, k) => lossOf(ps[k], pr))
        .reduce((a, b) => a.add(b))
        .backward(),
    );
    opt.step();
  }
  const out = await Promise.all(ps.map((p) => p.toArray()));
  opt.disposeState();
  for (const p of ps) {
    p.zeroGrad();
    p.dispose();
  }
  return out;
}

function runSgdRef(pr: Problem, o: SgdRef, steps = STEPS): Float64Array {
  const p = Float64Array.from(pr.p0);
  const st = { buf: null as Float64Array | null };
  for (let s = 0; s < steps; s++) sgdStep(p, refGrad(p, pr), o, st);
  return p;
}

function runAdamWRef(pr: Problem, o: AdamWRef, steps = STEPS): Float64Array {
  const p = Float64Array.from(pr.p0);
  const st = { step: 0, m: new Float64Array(p.length), v: new Float64Array(p.length) };
  for (let s = 0; s < steps; s++) adamwStep(p, refGrad(p, pr), o, st);
  return p;
}

const SGD_CASES: SgdRef[] = [
  { lr: 0.1 },
  { lr: 0.1, weightDecay: 0.05 },
  { lr: 0.05, momentum: 0.9 },
  { lr: 0.05, momentum: 0.9, dampening: 0.3 },
  { lr: 0.05, momentum: 0.9, nesterov: true },
  { lr: 0.05, momentum: 0.8, nesterov: true, weightDecay: 0.01 },
  { lr: 0.03, momentum: 0.9, dampening: 0.1, weightDecay: 5e-4 },
];

const ADAMW_CASES: AdamWRef[] = [
  { lr: 0.01 },
  { lr: 0.05, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1 },
  { lr: 0.02, weightDecay: 0 },
  // eps of the gradients' size: the denominator's eps term is then visible in float32.
  { lr: 0.05, eps: 0.3, weightDecay: 0 },
];

test('SGD: momentum, dampening, nesterov, weight decay follow PyTorch formulas over 6 steps (float64 reference)', async () => {
  for (const [k, o] of SGD_CASES.entries()) {
    const pr = problem(10 + k);
    const [gpu] = await runGpu([pr], (ps) => new optim.SGD(ps, o));
    const ref = runSgdRef(pr, o);
    const err = maxRelDiff(gpu, ref);
    if (process.env.VERBOSE) console.log(o, err);
    assert.ok(err < 1e-6, `SGD ${JSON.stringify(o)}: max relative error ${err}`);
    // The trajectory must actually move (a no-op optimizer would fail the comparison, too).
    assert.ok(maxRelDiff(gpu, pr.p0) > 0.05, `SGD ${JSON.stringify(o)}: parameters barely moved`);
  }
});

test('AdamW: bias correction and decoupled weight decay follow PyTorch formulas over 6 steps (float64 reference)', async () => {
  for (const [k, o] of ADAMW_CASES.entries()) {
    const pr = problem(20 + k);
    const [gpu] = await runGpu([pr], (ps) => new optim.AdamW(ps, o));
    const ref = runAdamWRef(pr, o);
    const err = maxRelDiff(gpu, ref);
    if (process.env.VERBOSE) console.log(o, err);
    assert.ok(err < 1e-6, `AdamW ${JSON.stringify(o)}: max relative error ${err}`);
    assert.ok(maxRelDiff(gpu, pr.p0) > 0.01, `AdamW ${JSON.stringify(o)}: parameters barely moved`);
  }
});

test('SGD and AdamW agree with torch.optim (float32, torch 1.13) on the same problems', async () => {
  const python = findPythonWithNumpy();
  const hasTorch = findPythonWithTorch() !== null;
  if (!hasTorch) {
    return skip('no python3 with torch (bash scripts/setup.sh --with-python installs python3-torch)');
  }
  const cases = [
    ...SGD_CASES.map((o, k) => ({ kind: 'sgd', o, pr: problem(10 + k) })),
    ...ADAMW_CASES.map((o, k) => ({ kind: 'adamw', o, pr: problem(20 + k) })),
  ];
  const script = `
import json, sys, torch
cases = json.load(open(sys.argv[1]))
out = []
for c in cases:
    p = torch.tensor(c['p0'], dtype=torch.float32).reshape(3, 4).requires_grad_(True)
    cc = torch.tensor(c['c'], dtype=torch.float32).reshape(3, 4)
    d = torch.tensor(c['d'], dtype=torch.float32).reshape(3, 4)
    o = c['o']
    if c['kind'] == 'sgd':
        opt = torch.optim.SGD([p], lr=o['lr'], momentum=o.get('momentum', 0), dampening=o.get('dampening', 0),
                              nesterov=o.get('nesterov', False), weight_decay=o.get('weightDecay', 0))
    else:
        opt = torch.optim.AdamW([p], lr=o['lr'], betas=tuple(o.get('betas', (0.9, 0.999))), eps=o.get('eps', 1e-8),
                                weight_decay=o.get('weightDecay', 0.01), foreach=False)
    for _ in range(${STEPS}):
        opt.zero_grad()
        (p * p * cc + p * d).sum().backward()
        opt.step()
    out.append(p.detach().reshape(-1).tolist())
print(json.dumps(out))
`;
  const { writeFileSync, mkdtempSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'wgrad-optim-'));
  try {
    const file = join(dir, 'cases.json');
    writeFileSync(file, JSON.stringify(cases.map((c) => ({ kind: c.kind, o: c.o, p0: [...c.pr.p0], c: [...c.pr.c], d: [...c.pr.d] }))));
    const torchOut = JSON.parse(runPython(python!, script, [file])) as number[][];
    for (const [k, c] of cases.entries()) {
      const [gpu] = await runGpu([c.pr], (ps) =>
        c.kind === 'sgd' ? new optim.SGD(ps, c.o as SgdRef) : new optim.AdamW(ps, c.o as AdamWRef),
      );
      const err = maxRelDiff(gpu, torchOut[k]);
      if (process.env.VERBOSE) console.log(c.kind, c.o, err);
      assert.ok(err < 1e-6, `${c.kind} ${JSON.stringify(c.o)} vs torch: max relative error ${err}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('parameter groups: each group follows its own lr / weight decay / momentum', async () => {
  const a = problem(31);
  const b = problem(32);
  const [ga, gb] = await runGpu(
    [a, b],
    ([pa, pb]) =>
      new optim.SGD([{ params: [pa] }, { params: [pb], lr: 0.01, weightDecay: 0.1, momentum: 0.5 }], { lr: 0.1, momentum: 0.9 }),
  );
  assert.ok(maxRelDiff(ga, runSgdRef(a, { lr: 0.1, momentum: 0.9 })) < 1e-6, 'group 0');
  assert.ok(maxRelDiff(gb, runSgdRef(b, { lr: 0.01, weightDecay: 0.1, momentum: 0.5 })) < 1e-6, 'group 1');
  const [aa, ab] = await runGpu(
    [a, b],
    ([pa, pb]) =>
      new optim.AdamW(
        [
          { params: [pa], lr: 0.03 },
          { params: [pb], weightDecay: 0 },
        ],
        { lr: 0.01 },
      ),
  );
  assert.ok(maxRelDiff(aa, runAdamWRef(a, { lr: 0.03 })) < 1e-6, 'AdamW group 0');
  assert.ok(maxRelDiff(ab, runAdamWRef(b, { lr: 0.01, weightDecay: 0 })) < 1e-6, 'AdamW group 1');
});

test('step(): one kernel dispatch per parameter; parameters without a gradient are skipped', async () => {
  const ps = [0, 1, 2].map((k) => keep(tensor(problem(40 + k).p0, [3, 4], { requiresGrad: true })));
  for (const opt of [
    new optim.SGD(ps, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 }),
    new optim.SGD(ps, { lr: 0.1 }),
    new optim.AdamW(ps),
  ]) {
    tidy(() => ps[0].mul(ps[0]).add(ps[1]).sum().backward());
    opt.step(); // first step may allocate state
    const before = stats().dispatches;
    opt.step();
    assert.is(stats().dispatches - before, 2, `${opt.name}: dispatches for 2 parameters with gradients`);
    assert.is(opt.stateOf(ps[2]), undefined, `${opt.name}: no state for the parameter without gradient`);
    opt.zeroGrad();
    assert.ok(
      ps.every((p) => p.grad === null),
      'zeroGrad drops gradients',
    );
    opt.disposeState();
  }
  const before = await ps[2].toArray();
  assert.equal(before, problem(42).p0, 'untouched parameter keeps its values');
  for (const p of ps) p.dispose();
});

test('stateDict / loadStateDict: a restored optimizer continues bit-identically', async () => {
  for (const make of [
    (ps: Tensor[]) => new optim.SGD(ps, { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }),
    (ps: Tensor[]) => new optim.AdamW(ps, { lr: 0.02 }),
  ]) {
    const pr = problem(50);
    const p = keep(tensor(pr.p0, [3, 4], { requiresGrad: true }));
    const opt = make([p]);
    const stepOnce = (o: optim.Optimizer<any>, q: Tensor) => {
      o.zeroGrad();
      tidy(() => lossOf(q, pr).backward());
      o.step();
    };
    for (let s = 0; s < 3; s++) stepOnce(opt, p);
    // A second optimizer over a copy of the parameter, restored from the first one's state dict.
    const q = keep(tensor(await p.toArray(), [3, 4], { requiresGrad: true }));
    const opt2 = make([q]);
    opt2.paramGroups[0].lr = 123; // overwritten by the state dict
    opt2.loadStateDict(opt.stateDict());
    assert.is(opt2.paramGroups[0].lr, opt.paramGroups[0].lr, 'hyper-parameters restored');
    for (let s = 0; s < 3; s++) {
      stepOnce(opt, p);
      stepOnce(opt2, q);
    }
    assert.equal(await q.toArray(), await p.toArray(), `${opt.name}: continued trajectories are bit-identical`);
    if (opt instanceof optim.AdamW) assert.is(opt2.stateOf(q)!.step, 6, 'AdamW step count restored and advanced');
    for (const o of [opt, opt2]) o.disposeState();
    for (const t of [p, q]) {
      t.zeroGrad();
      t.dispose();
    }
  }
});

test('loadStateDict rejects state that does not fit, naming the problem', async () => {
  const p = keep(tensor(problem(60).p0, [3, 4], { requiresGrad: true }));
  const r = keep(tensor([1, 2], [2], { requiresGrad: true }));
  const opt = new optim.SGD([p], { lr: 0.1, momentum: 0.9 });
  tidy(() => p.sum().backward());
  opt.step();
  const other = new optim.SGD([r], { lr: 0.1, momentum: 0.9 });
  assert.throws(() => other.loadStateDict(opt.stateDict()), /momentumBuffer of parameter 0 has shape \[3, 4\], the parameter \[2\]/);
  const two = new optim.SGD([{ params: [r] }, { params: [p] }], { lr: 0.1 });
  assert.throws(() => two.loadStateDict(opt.stateDict()), /1 parameter group\(s\), this optimizer 2/);
  opt.disposeState();
  for (const t of [p, r]) {
    t.zeroGrad();
    t.dispose();
  }
});

test('argument errors', () => {
  const p = keep(tensor([1, 2, 3], [3], { requiresGrad: true }));
  assert.throws(() => new optim.SGD([p], { lr: 0.1, nesterov: true }), /Nesterov momentum requires momentum > 0/);
  assert.throws(() => new optim.SGD([p], { lr: -1 }), /invalid learning rate -1/);
  assert.throws(() => new optim.SGD([p, p], { lr: 0.1 }), /more than one place/);
  assert.throws(() => new optim.SGD([tensor([1])], { lr: 0.1 }), /does not require grad/);
  assert.throws(() => new optim.AdamW([p], { betas: [0.9, 1] }), /invalid betas/);
  assert.throws(() => new optim.SGD([], { lr: 0.1 }), /empty parameter list/);
  p.dispose();
});

test.run();
