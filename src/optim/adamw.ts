// AdamW (decoupled weight decay, Loshchilov & Hutter) and Adam (L2 weight decay added to the
// gradient) with PyTorch's bias correction; each parameter's update is one dispatch of
// kernels/adamw.wgsl, which updates the parameter and both moment estimates in place. Step counts
// are per parameter, on the host, as in PyTorch.

import type { Tensor } from '../tensor.ts';
import { keep } from '../scope.ts';
import { fill } from '../ops/creation-internal.ts';
import { UniformLayout } from '../device/uniform-layout.ts';
import { grid } from '../ops/grid.ts';
import { Optimizer, type ParamGroup, type ParamsArg, type ParamState } from './optimizer.ts';

/** Options of optim.AdamW (PyTorch's names and defaults: lr 1e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 1e-2). */
export interface AdamWOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

/** AdamW's hyper-parameters as a parameter group holds them. */
export interface AdamWHyper {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
}

const WG = 256;

/**
 * AdamW (decoupled weight decay) with PyTorch's bias correction; one kernel dispatch per parameter.
 *
 * @example
 * const model = new nn.Linear(16, 4);
 * const opt = new optim.AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0.05 });
 * model.forward(randn([8, 16])).square().mean().backward();
 * opt.step();
 */
export class AdamW extends Optimizer<AdamWHyper> {
  constructor(params: ParamsArg<AdamWHyper>, opts: AdamWOptions = {}) {
    super('AdamW', params, {
      lr: opts.lr ?? 1e-3,
      betas: opts.betas ?? [0.9, 0.999],
      eps: opts.eps ?? 1e-8,
      weightDecay: opts.weightDecay ?? 1e-2,
    });
  }

  protected override checkHyper(g: AdamWHyper, gi: number): void {
    super.checkHyper(g, gi);
    checkAdamHyper('AdamW', g, gi);
  }

  protected update(p: Tensor, g: Tensor, h: ParamGroup<AdamWHyper>): void {
    adamUpdate(this.state, p, g, h, 'decoupled');
  }
}

export function checkAdamHyper(name: string, g: AdamWHyper, gi: number): void {
  const [b1, b2] = g.betas ?? [];
  if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1))
    throw new Error(`${name}: invalid betas [${g.betas}] in group ${gi} (each must be in [0, 1))`);
  if (!(Number.isFinite(g.eps) && g.eps >= 0)) throw new Error(`${name}: invalid eps ${g.eps} in group ${gi}`);
}

// prettier-ignore
const adamwLayout = new UniformLayout(['adamw'], {
  n: 'u32', off_p: 'u32', off_g: 'u32', off_m: 'u32', off_v: 'u32',
  decay: 'f32', beta1: 'f32', beta2: 'f32', one_minus_beta1: 'f32', one_minus_beta2: 'f32',
  step_size: 'f32', bc2_sqrt: 'f32', eps: 'f32', l2: 'f32',
});

/** One Adam(W) step of p: weight decay 'decoupled' (AdamW) or 'l2' (Adam, added to the gradient). */
export function adamUpdate(
  state: Map<Tensor, ParamState>,
  p: Tensor,
  g: Tensor,
  h: ParamGroup<AdamWHyper>,
  decay: 'decoupled' | 'l2',
): void {
  let s = state.get(p);
  if (!s) state.set(p, (s = { step: 0, expAvg: keep(fill(p.shape, 0)), expAvgSq: keep(fill(p.shape, 0)) }));
  const step = (s.step as number) + 1;
  s.step = step;
  const m = s.expAvg as Tensor;
  const v = s.expAvgSq as Tensor;
  const [b1, b2] = h.betas;
  // Python floats in PyTorch: float64 on the host, rounded to f32 once.
  const stepSize = h.lr / (1 - b1 ** step);
  const bc2Sqrt = Math.sqrt(1 - b2 ** step);
  const decoupled = decay === 'decoupled';
  const u = adamwLayout.pack({
    n: p.size,
    off_p: p.offset,
    off_g: g.offset,
    off_m: m.offset,
    off_v: v.offset,
    decay: decoupled ? 1 - h.lr * h.weightDecay : 1,
    beta1: b1,
    beta2: b2,
    one_minus_beta1: 1 - b1,
    one_minus_beta2: 1 - b2,
    step_size: stepSize,
    bc2_sqrt: bc2Sqrt,
    eps: h.eps,
    l2: decoupled ? 0 : h.weightDecay,
  });
  p.device.dispatch({
    kernel: 'adamw',
    params: { WG },
    buffers: [p.storage.buffer, g.storage.buffer, m.storage.buffer, v.storage.buffer],
    access: 'wrww',
    uniforms: u,
    workgroups: grid(Math.ceil(p.size / WG)),
    label: decoupled ? 'AdamW.step' : 'Adam.step',
  });
}
