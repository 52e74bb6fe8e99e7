// Learning-rate schedules against their closed forms (torch.optim.lr_scheduler and MoCo's
// adjust_learning_rate), composition, LRScheduler on parameter groups, and its state dict.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { keep, tensor, optim } from '../../src/index.ts';
import { setup } from '../helpers.ts';

test.before(setup);

const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

test('cosine: MoCo per-epoch formula and CosineAnnealingLR with eta_min', () => {
  const epochs = 200;
  const f = optim.cosine(epochs);
  for (const e of [0, 1, 50, 100, 137, 199, 200]) close(f(e), 0.5 * (1 + Math.cos((Math.PI * e) / epochs)), `epoch ${e}`);
  close(f(100), 0.5, 'half way');
  close(f(250), 0, 'stays at the minimum after total');
  // CosineAnnealingLR: eta_min + (base − eta_min)(1 + cos(π t / T)) / 2, as a factor of base.
  const base = 0.1;
  const etaMin = 0.001;
  const g = optim.cosine(10, { minFactor: etaMin / base });
  for (let t = 0; t <= 10; t++) close(base * g(t), etaMin + ((base - etaMin) * (1 + Math.cos((Math.PI * t) / 10))) / 2, `t ${t}`);
});

test('stepDecay and multiStep: StepLR / MultiStepLR closed forms', () => {
  const s = optim.stepDecay(30, 0.1);
  for (const [t, want] of [
    [0, 1],
    [29, 1],
    [30, 0.1],
    [59, 0.1],
    [60, 0.01],
    [95, 0.001],
  ])
    close(s(t), want, `step t ${t}`);
  const m = optim.multiStep([160, 120], 0.1); // MoCo v1: drops at 120 and 160 (order does not matter)
  for (const [t, want] of [
    [0, 1],
    [119, 1],
    [120, 0.1],
    [159.5, 0.1],
    [160, 0.01],
    [199, 0.01],
  ])
    close(m(t), want, `multiStep t ${t}`);
});

test('linearWarmup composes: warm-up then cosine over the remaining epochs (MoCo v3 form)', () => {
  const warm = 10;
  const total = 100;
  const f = optim.linearWarmup(warm, optim.cosine(total - warm));
  for (const e of [0, 2.5, 5, 9.99]) close(f(e), e / warm, `warm-up epoch ${e}`);
  for (const e of [10, 40, 77.5, 100]) close(f(e), 0.5 * (1 + Math.cos((Math.PI * (e - warm)) / (total - warm))), `cosine epoch ${e}`);
  const g = optim.linearWarmup(4, optim.constant(), { startFactor: 0.25 }); // torch LinearLR(start_factor=0.25, total_iters=4)
  for (const [t, want] of [
    [0, 0.25],
    [1, 0.4375],
    [2, 0.625],
    [3, 0.8125],
    [4, 1],
    [10, 1],
  ])
    close(g(t), want, `LinearLR t ${t}`);
});

test('perStep: an epoch schedule evaluated at fractional epochs', () => {
  const f = optim.perStep(optim.cosine(10), 50);
  for (const s of [0, 1, 25, 260, 499]) close(f(s), 0.5 * (1 + Math.cos((Math.PI * (s / 50)) / 10)), `step ${s}`);
});

test('LRScheduler: sets every group to base × factor, steps and resumes from a state dict', () => {
  const a = keep(tensor([1, 2], [2], { requiresGrad: true }));
  const b = keep(tensor([3], [1], { requiresGrad: true }));
  const opt = new optim.SGD([{ params: [a] }, { params: [b], lr: 0.01 }], { lr: 0.1, momentum: 0.9 });
  const sched = new optim.LRScheduler(opt, optim.linearWarmup(2, optim.cosine(8)));
  assert.equal(sched.lrs, [0, 0], 'applied at construction (t = 0)');
  sched.step();
  close(opt.paramGroups[0].lr, 0.05, 'group 0 at t = 1');
  close(opt.paramGroups[1].lr, 0.005, 'group 1 at t = 1');
  sched.step();
  sched.step();
  const want = 0.5 * (1 + Math.cos(Math.PI / 8));
  close(opt.paramGroups[0].lr, 0.1 * want, 'group 0 at t = 3');
  close(sched.set(2.5), 0.1 * 0.5 * (1 + Math.cos((Math.PI * 0.5) / 8)), 'fractional time');
  sched.step();
  const saved = sched.stateDict();
  const opt2 = new optim.SGD([{ params: [a] }, { params: [b], lr: 0.01 }], { lr: 0.1, momentum: 0.9 });
  const sched2 = new optim.LRScheduler(opt2, optim.linearWarmup(2, optim.cosine(8)));
  sched2.loadStateDict(saved);
  assert.equal(
    opt2.paramGroups.map((g) => g.lr),
    opt.paramGroups.map((g) => g.lr),
    'restored learning rates',
  );
  sched.step();
  sched2.step();
  assert.equal(sched2.lrs, sched.lrs, 'continues identically');
  assert.throws(() => new optim.LRScheduler(opt, () => NaN), /factor NaN at t = 0/);
  assert.throws(() => optim.cosine(0), /total must be a positive number/);
  a.dispose();
  b.dispose();
});

test.run();
