// Activation layers beyond ReLU: each a Module over one elementwise op of src/ops/elementwise.ts,
// with PyTorch's constructor arguments, defaults and printed form.

import type { Tensor } from '../tensor.ts';
import { elu, gelu, leakyRelu, silu, softplus } from '../ops/elementwise.ts';
import { Module, pyFloat } from './module.ts';

/** GELU as a layer: exact (erf) by default, `approximate: 'tanh'` as PyTorch. @example new nn.GELU().forward(tensor([-1, 1])) // [-0.1587, 0.8413] */
export class GELU extends Module {
  constructor(readonly approximate: 'none' | 'tanh' = 'none') {
    super();
    if (approximate !== 'none' && approximate !== 'tanh')
      throw new Error(`GELU: approximate must be 'none' or 'tanh', got '${approximate}'`);
  }
  forward(x: Tensor): Tensor {
    return gelu(x, { approximate: this.approximate });
  }
  override extraRepr(): string {
    return `approximate='${this.approximate}'`;
  }
}

/** x·sigmoid(x) as a layer. @example new nn.SiLU().forward(tensor([0, 1])) // [0, 0.7311] */
export class SiLU extends Module {
  forward(x: Tensor): Tensor {
    return silu(x);
  }
}

/** Leaky ReLU as a layer (negativeSlope 0.01 by default). @example new nn.LeakyReLU(0.2).forward(tensor([-1, 1])) // [-0.2, 1] */
export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor {
    return leakyRelu(x, this.negativeSlope);
  }
  override extraRepr(): string {
    return `negative_slope=${pyFloat(this.negativeSlope)}`;
  }
}

/** ELU as a layer (alpha 1 by default). @example new nn.ELU().forward(tensor([-1, 1])) // [-0.6321, 1] */
export class ELU extends Module {
  constructor(readonly alpha = 1) {
    super();
  }
  forward(x: Tensor): Tensor {
    return elu(x, this.alpha);
  }
  override extraRepr(): string {
    return `alpha=${pyFloat(this.alpha)}`;
  }
}

/** Softplus as a layer (beta 1, threshold 20 by default). @example new nn.Softplus().forward(tensor([0])) // [0.6931] */
export class Softplus extends Module {
  constructor(
    readonly beta = 1,
    readonly threshold = 20,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return softplus(x, this.beta, this.threshold);
  }
  override extraRepr(): string {
    // PyTorch prints these as given (defaults are the ints 1 and 20).
    return `beta=${this.beta}, threshold=${this.threshold}`;
  }
}
