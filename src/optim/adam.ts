// Adam (Kingma & Ba) as torch.optim.Adam: weight decay is L2, added to the gradient before the
// moment estimates (AdamW decouples it). Same kernel as AdamW (kernels/adamw.wgsl).

import type { Tensor } from '../tensor.ts';
import { Optimizer, type ParamGroup, type ParamsArg } from './optimizer.ts';
import { adamUpdate, checkAdamHyper, type AdamWHyper } from './adamw.ts';

/** Options of optim.Adam (PyTorch's names and defaults: lr 1e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 0). */
export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  /** L2 penalty: weightDecay · p is added to the gradient (not decoupled; see AdamW). */
  weightDecay?: number;
}

/**
 * Adam with PyTorch's bias correction and L2 weight decay; one kernel dispatch per parameter.
 *
 * @example
 * const model = new nn.Linear(16, 4);
 * const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
 * model.forward(randn([8, 16])).square().mean().backward();
 * opt.step();
 */
export class Adam extends Optimizer<AdamWHyper> {
  constructor(params: ParamsArg<AdamWHyper>, opts: AdamOptions = {}) {
    super('Adam', params, {
      lr: opts.lr ?? 1e-3,
      betas: opts.betas ?? [0.9, 0.999],
      eps: opts.eps ?? 1e-8,
      weightDecay: opts.weightDecay ?? 0,
    });
  }

  protected override checkHyper(g: AdamWHyper, gi: number): void {
    super.checkHyper(g, gi);
    checkAdamHyper('Adam', g, gi);
  }

  protected update(p: Tensor, g: Tensor, h: ParamGroup<AdamWHyper>): void {
    adamUpdate(this.state, p, g, h, 'l2');
  }
}
