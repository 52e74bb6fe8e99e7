// RMSprop as torch.optim.RMSprop (Hinton's lecture 6e; centered variant of Graves 2013): one
// dispatch of kernels/rmsprop.wgsl per parameter, state (square_avg, grad_avg when centered,
// momentum_buffer when momentum > 0) on the GPU, zero-initialised as PyTorch.

import type { Tensor } from '../tensor.ts';
import { keep } from '../scope.ts';
import { fill } from '../ops/creation-internal.ts';
import { UniformLayout } from '../device/uniform-layout.ts';
import { grid } from '../ops/grid.ts';
import { Optimizer, type ParamGroup, type ParamsArg } from './optimizer.ts';

/** Options of optim.RMSprop (PyTorch's names and defaults: lr 1e-2, alpha 0.99, eps 1e-8, weightDecay 0, momentum 0, centered false). */
export interface RMSpropOptions {
  lr?: number;
  alpha?: number;
  eps?: number;
  weightDecay?: number;
  momentum?: number;
  centered?: boolean;
}

/** RMSprop's hyper-parameters as a parameter group holds them. */
export interface RMSpropHyper {
  lr: number;
  alpha: number;
  eps: number;
  weightDecay: number;
  momentum: number;
  centered: boolean;
}

const WG = 256;
// prettier-ignore
const rmspropLayout = new UniformLayout(['rmsprop'], {
  n: 'u32', off_p: 'u32', off_g: 'u32', off_sq: 'u32', off_ga: 'u32', off_buf: 'u32', centered: 'u32', use_momentum: 'u32',
  lr: 'f32', alpha: 'f32', eps: 'f32', weight_decay: 'f32', momentum: 'f32',
});

/**
 * RMSprop with PyTorch's update order (L2 weight decay, optional momentum and centering); one
 * kernel dispatch per parameter.
 *
 * @example
 * const model = new nn.Linear(16, 4);
 * const opt = new optim.RMSprop(model.parameters(), { lr: 1e-2, momentum: 0.9, centered: true });
 * model.forward(randn([8, 16])).square().mean().backward();
 * opt.step();
 */
export class RMSprop extends Optimizer<RMSpropHyper> {
  /** Bound in place of the state a configuration does not use: WebGPU needs every binding, and two writable bindings may not share a buffer. */
  private placeholders: [Tensor, Tensor] | null = null;

  constructor(params: ParamsArg<RMSpropHyper>, opts: RMSpropOptions = {}) {
    super('RMSprop', params, {
      lr: opts.lr ?? 1e-2,
      alpha: opts.alpha ?? 0.99,
      eps: opts.eps ?? 1e-8,
      weightDecay: opts.weightDecay ?? 0,
      momentum: opts.momentum ?? 0,
      centered: opts.centered ?? false,
    });
  }

  protected override checkHyper(g: RMSpropHyper, gi: number): void {
    super.checkHyper(g, gi);
    if (!(g.alpha >= 0 && g.alpha <= 1)) throw new Error(`RMSprop: invalid alpha ${g.alpha} in group ${gi} (must be in [0, 1])`);
    if (!(Number.isFinite(g.eps) && g.eps >= 0)) throw new Error(`RMSprop: invalid eps ${g.eps} in group ${gi}`);
    if (!(Number.isFinite(g.momentum) && g.momentum >= 0))
      throw new Error(`RMSprop: invalid momentum ${g.momentum} in group ${gi} (must be ≥ 0)`);
  }

  protected update(p: Tensor, g: Tensor, h: ParamGroup<RMSpropHyper>): void {
    let s = this.state.get(p);
    if (!s) this.state.set(p, (s = { step: 0, squareAvg: keep(fill(p.shape, 0)) }));
    s.step = (s.step as number) + 1;
    if (h.momentum > 0 && !s.momentumBuffer) s.momentumBuffer = keep(fill(p.shape, 0));
    if (h.centered && !s.gradAvg) s.gradAvg = keep(fill(p.shape, 0));
    const sq = s.squareAvg as Tensor;
    const unused = () => (this.placeholders ??= [keep(fill([1], 0)), keep(fill([1], 0))]);
    const ga = h.centered ? (s.gradAvg as Tensor) : unused()[0];
    const buf = h.momentum > 0 ? (s.momentumBuffer as Tensor) : unused()[1];
    const u = rmspropLayout.pack({
      n: p.size,
      off_p: p.offset,
      off_g: g.offset,
      off_sq: sq.offset,
      off_ga: ga.offset,
      off_buf: buf.offset,
      centered: h.centered ? 1 : 0,
      use_momentum: h.momentum > 0 ? 1 : 0,
      lr: h.lr,
      alpha: h.alpha,
      eps: h.eps,
      weight_decay: h.weightDecay,
      momentum: h.momentum,
    });
    p.device.dispatch({
      kernel: 'rmsprop',
      params: { WG },
      buffers: [p.storage.buffer, g.storage.buffer, sq.storage.buffer, ga.storage.buffer, buf.storage.buffer],
      access: 'wrwww',
      uniforms: u,
      workgroups: grid(Math.ceil(p.size / WG)),
      label: 'RMSprop.step',
    });
  }

  override disposeState(): void {
    super.disposeState();
    for (const t of this.placeholders ?? []) t.dispose();
    this.placeholders = null;
  }
}
