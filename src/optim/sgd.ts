// SGD with momentum, dampening, Nesterov and L2 weight decay, in exactly PyTorch's update order
// (see kernels/sgd.wgsl). Each parameter's update is one dispatch: kernels/sgd.wgsl with momentum,
// the generic elementwise kernel (p - lr * (g + wd * p)) without.

import { Tensor } from '../tensor.ts';
import { keep } from '../scope.ts';
import { UniformLayout } from '../device/uniform-layout.ts';
import { grid } from '../ops/grid.ts';
import { mapInto } from '../ops/map.ts';
import { Optimizer, type ParamGroup, type ParamsArg } from './optimizer.ts';

/** Options of optim.SGD (PyTorch's names and defaults; lr is required). */
export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

/** SGD's hyper-parameters as a parameter group holds them. */
export interface SGDHyper {
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
}

const WG = 256;
// prettier-ignore
const sgdLayout = new UniformLayout(['sgd'], {
  n: 'u32', off_p: 'u32', off_g: 'u32', off_b: 'u32',
  lr: 'f32', momentum: 'f32', dampening: 'f32', weight_decay: 'f32', nesterov: 'u32', first: 'u32',
});

/**
 * SGD with momentum, dampening, Nesterov and L2 weight decay, in PyTorch's update order; one
 * kernel dispatch per parameter.
 *
 * @example
 * const model = new nn.Linear(784, 10);
 * const opt = new optim.SGD(model.parameters(), { lr: 0.03, momentum: 0.9, weightDecay: 1e-4 });
 * const noDecay = new optim.SGD([{ params: [model.weight] }, { params: [model.bias!], weightDecay: 0 }], { lr: 0.03, weightDecay: 1e-4 });
 */
export class SGD extends Optimizer<SGDHyper> {
  constructor(params: ParamsArg<SGDHyper>, opts: SGDOptions) {
    if (opts === undefined || typeof opts.lr !== 'number')
      throw new Error('SGD: options must include a learning rate, e.g. new SGD(params, { lr: 0.1 })');
    super('SGD', params, {
      lr: opts.lr,
      momentum: opts.momentum ?? 0,
      dampening: opts.dampening ?? 0,
      nesterov: opts.nesterov ?? false,
      weightDecay: opts.weightDecay ?? 0,
    });
  }

  protected override checkHyper(g: SGDHyper, gi: number): void {
    super.checkHyper(g, gi);
    if (!(Number.isFinite(g.momentum) && g.momentum >= 0))
      throw new Error(`SGD: invalid momentum ${g.momentum} in group ${gi} (must be ≥ 0)`);
    if (!Number.isFinite(g.dampening)) throw new Error(`SGD: invalid dampening ${g.dampening} in group ${gi}`);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) {
      throw new Error(
        `SGD: Nesterov momentum requires momentum > 0 and dampening = 0 (group ${gi} has momentum ${g.momentum}, dampening ${g.dampening})`,
      );
    }
  }

  protected update(p: Tensor, g: Tensor, h: ParamGroup<SGDHyper>): void {
    if (h.momentum === 0) {
      mapInto(p, [p, g], h.weightDecay !== 0 ? 'x0 - p.a * (x1 + p.b * x0)' : 'x0 - p.a * x1', 'SGD.step', h.lr, h.weightDecay);
      return;
    }
    let s = this.state.get(p);
    const first = s === undefined;
    if (!s) this.state.set(p, (s = { momentumBuffer: keep(Tensor.empty(p.shape, p.device)) })); // written before read on the first step
    const buf = s.momentumBuffer as Tensor;
    const u = sgdLayout.pack({
      n: p.size,
      off_p: p.offset,
      off_g: g.offset,
      off_b: buf.offset,
      lr: h.lr,
      momentum: h.momentum,
      dampening: h.dampening,
      weight_decay: h.weightDecay,
      nesterov: h.nesterov ? 1 : 0,
      first: first ? 1 : 0,
    });
    p.device.dispatch({
      kernel: 'sgd',
      params: { WG },
      buffers: [p.storage.buffer, g.storage.buffer, buf.storage.buffer],
      access: 'wrw',
      uniforms: u,
      workgroups: grid(Math.ceil(p.size / WG)),
      label: 'SGD.step',
    });
  }
}
