// The standard layers, each a thin Module over one functional op (src/ops/*), initialised as
// PyTorch initialises them, and printed as PyTorch prints them.

import type { Tensor } from '../tensor.ts';
import { fill } from '../ops/creation-internal.ts';
import { relu } from '../ops/elementwise.ts';
import { flatten } from '../ops/shape.ts';
import { conv2d, type Pair } from '../ops/conv.ts';
import { maxPool2d, avgPool2d, adaptiveAvgPool2d } from '../ops/pool.ts';
import { batchNorm } from '../ops/norm.ts';
import { linear, dropout } from '../ops/linear.ts';
import { fmt } from '../shape.ts';
import { defaultGenerator, type Generator } from '../random.ts';
import { Module, parameter, pyFloat } from './module.ts';
import { kaimingUniform, uniform } from './init.ts';

const SQRT5 = Math.sqrt(5);

function asPair(v: Pair): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}
const tuple = (p: readonly number[]) => `(${p.join(', ')})`;

/** y = x Wᵀ + b. Weight [outFeatures, inFeatures] ~ kaiming-uniform(a=√5), bias ~ U(±1/√inFeatures). @example new nn.Linear(784, 10).forward(randn([32, 784])).shape // [32, 10] */
export class Linear extends Module {
  weight: Tensor;
  bias: Tensor | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: { bias?: boolean; generator?: Generator } = {},
  ) {
    super();
    const generator = opts.generator ?? defaultGenerator;
    this.weight = parameter(kaimingUniform([outFeatures, inFeatures], { a: SQRT5, generator }));
    const bound = inFeatures > 0 ? 1 / Math.sqrt(inFeatures) : 0;
    this.bias = (opts.bias ?? true) ? parameter(uniform([outFeatures], -bound, bound, generator)) : null;
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias ?? undefined);
  }

  /** relu(this.forward(x)) with the bias and ReLU fused into the matmul (linear's `activation: 'relu'`). */
  forwardReLU(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias ?? undefined, { activation: 'relu' });
  }

  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${this.bias ? 'True' : 'False'}`;
  }
}

/** Options of nn.Conv2d: stride, padding, dilation, groups, bias (default true), generator for the initialisation. */
export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
  generator?: Generator;
}

/**
 * 2-D convolution. Weight [outC, inC/groups, kh, kw] ~ kaiming-uniform(a=√5), bias ~ U(±1/√fanIn).
 *
 * @example
 * const conv = new nn.Conv2d(3, 16, 3, { padding: 1, bias: false });
 * conv.forward(randn([8, 3, 32, 32])).shape; // [8, 16, 32, 32]
 */
export class Conv2d extends Module {
  weight: Tensor;
  bias: Tensor | null;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    opts: Conv2dOptions = {},
  ) {
    super();
    this.kernelSize = asPair(kernelSize);
    this.stride = asPair(opts.stride ?? 1);
    this.padding = asPair(opts.padding ?? 0);
    this.dilation = asPair(opts.dilation ?? 1);
    this.groups = opts.groups ?? 1;
    if (inChannels % this.groups !== 0 || outChannels % this.groups !== 0) {
      throw new Error(`Conv2d: in_channels ${inChannels} and out_channels ${outChannels} must both be divisible by groups=${this.groups}`);
    }
    const generator = opts.generator ?? defaultGenerator;
    const shape = [outChannels, inChannels / this.groups, ...this.kernelSize];
    this.weight = parameter(kaimingUniform(shape, { a: SQRT5, generator }));
    const fanIn = shape[1] * shape[2] * shape[3];
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    this.bias = (opts.bias ?? true) ? parameter(uniform([outChannels], -bound, bound, generator)) : null;
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }

  /** relu(this.forward(x)) with the ReLU in the convolution's store (conv2d's `activation: 'relu'`). */
  forwardReLU(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      groups: this.groups,
      activation: 'relu',
    });
  }

  override extraRepr(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernel_size=${tuple(this.kernelSize)}, stride=${tuple(this.stride)}`;
    if (this.padding.some((p) => p !== 0)) s += `, padding=${tuple(this.padding)}`;
    if (this.dilation.some((d) => d !== 1)) s += `, dilation=${tuple(this.dilation)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (!this.bias) s += ', bias=False';
    return s;
  }
}

/** Options of the BatchNorm layers: eps, momentum of the running statistics, affine (learnable scale and shift). */
export interface BatchNormOptions {
  eps?: number;
  /** Weight of the new batch statistics in the running averages (default 0.1). */
  momentum?: number;
  /** Learnable per-channel scale and shift (default true). */
  affine?: boolean;
}

/**
 * Batch normalisation over [N, C, ...]: batch statistics in training (updating the running mean
 * and the unbiased running variance in place), running statistics in evaluation.
 */
abstract class BatchNormBase extends Module {
  weight: Tensor | null;
  bias: Tensor | null;
  declare runningMean: Tensor;
  declare runningVar: Tensor;
  readonly eps: number;
  readonly momentum: number;
  readonly affine: boolean;

  constructor(
    readonly numFeatures: number,
    opts: BatchNormOptions,
    private readonly ranks: number[],
  ) {
    super();
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum ?? 0.1;
    this.affine = opts.affine ?? true;
    this.weight = this.affine ? parameter(fill([numFeatures], 1)) : null;
    this.bias = this.affine ? parameter(fill([numFeatures], 0)) : null;
    this.registerBuffer('runningMean', fill([numFeatures], 0));
    this.registerBuffer('runningVar', fill([numFeatures], 1));
  }

  /** Batch chunks with separate statistics in training (SplitBatchNorm2d). */
  protected groupsInTraining(): number {
    return 1;
  }

  forward(x: Tensor): Tensor {
    return this.normalize(x);
  }

  /** relu(this.forward(x)) in one fused pass each way (batchNorm's `activation: 'relu'`). */
  forwardReLU(x: Tensor): Tensor {
    return this.normalize(x, 'relu');
  }

  private normalize(x: Tensor, activation?: 'relu'): Tensor {
    if (!this.ranks.includes(x.ndim) || x.shape[1] !== this.numFeatures) {
      throw new Error(
        `${this.constructor.name}(${this.numFeatures}): expected input of ${this.ranks.join(' or ')} dims with ${this.numFeatures} channels in dim 1, got shape ${fmt(x.shape)}`,
      );
    }
    return batchNorm(x, this.runningMean, this.runningVar, this.weight, this.bias, {
      training: this.training,
      momentum: this.momentum,
      eps: this.eps,
      groups: this.training ? this.groupsInTraining() : 1,
      ...(activation ? { activation } : {}),
    });
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${pyFloat(this.eps)}, momentum=${pyFloat(this.momentum)}, affine=${this.affine ? 'True' : 'False'}, track_running_stats=True`;
  }
}

/** BatchNorm over [N, C] or [N, C, L]. @example new nn.BatchNorm1d(64).forward(randn([32, 64])) // per-feature mean 0, variance 1 */
export class BatchNorm1d extends BatchNormBase {
  constructor(numFeatures: number, opts: BatchNormOptions = {}) {
    super(numFeatures, opts, [2, 3]);
  }
}

/**
 * BatchNorm over [N, C, H, W].
 *
 * @example
 * const bn = new nn.BatchNorm2d(16);
 * bn.forward(randn([8, 16, 5, 5]));     // training: batch statistics, running ones updated
 * bn.eval().forward(randn([1, 16, 5, 5])); // eval: running statistics
 */
export class BatchNorm2d extends BatchNormBase {
  constructor(numFeatures: number, opts: BatchNormOptions = {}) {
    super(numFeatures, opts, [4]);
  }
}

/**
 * MoCo's SplitBatchNorm: in training the batch is split into `numSplits` groups (sample n in group
 * n mod numSplits) normalised with their own statistics, simulating per-GPU BatchNorm on one device;
 * the running statistics are updated with the groups' average. Evaluation uses the running ones.
 *
 * @example
 * const encoder = new nn.SmallConvNet({ width: 16, norm: (c) => new nn.SplitBatchNorm2d(c, 8) });
 */
export class SplitBatchNorm2d extends BatchNormBase {
  constructor(
    numFeatures: number,
    readonly numSplits: number,
    opts: BatchNormOptions = {},
  ) {
    super(numFeatures, opts, [4]);
    if (!Number.isInteger(numSplits) || numSplits < 1)
      throw new Error(`SplitBatchNorm2d: numSplits must be a positive integer, got ${numSplits}`);
  }

  protected override groupsInTraining(): number {
    return this.numSplits;
  }

  override extraRepr(): string {
    return `${super.extraRepr()}, num_splits=${this.numSplits}`;
  }
}

/** max(x, 0) as a layer. @example new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 1)) */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

/**
 * True when layer then relu can run as one op with `activation: 'relu'`: a batch norm layer
 * (one fused pass each way), a Linear or a Conv2d (bias + ReLU in the matmul's or convolution's
 * store), followed by a ReLU layer, neither overriding forward.
 */
function fusable(layer: Module, relu: Module): layer is BatchNormBase | Linear | Conv2d {
  const plain =
    (layer instanceof BatchNormBase && layer.forward === BatchNormBase.prototype.forward) ||
    (layer instanceof Linear && layer.forward === Linear.prototype.forward) ||
    (layer instanceof Conv2d && layer.forward === Conv2d.prototype.forward);
  return plain && relu instanceof ReLU && relu.forward === ReLU.prototype.forward;
}

/**
 * relu.forward(layer.forward(x)), run as one fused op when layer is a batch norm layer, a Linear
 * or a Conv2d and relu a ReLU layer (see fusable); any other pair runs as two modules. Used by the
 * backbones (src/nn/encoders.ts) and Sequential; parameter and buffer names are unchanged.
 */
export function fusedReLU(layer: Module, relu: Module, x: Tensor): Tensor {
  return fusable(layer, relu) ? layer.forwardReLU(x) : relu.forward(layer.forward(x));
}

/** Options of nn.MaxPool2d / nn.AvgPool2d: stride (default: the kernel size) and padding. */
export interface Pool2dOptions {
  /** Defaults to the kernel size. */
  stride?: Pair;
  padding?: Pair;
}

/** Window, stride (default: the window) and padding shared by the pooling layers. */
abstract class Pool2dBase extends Module {
  readonly stride: Pair;
  readonly padding: Pair;
  constructor(
    readonly kernelSize: Pair,
    opts: Pool2dOptions = {},
  ) {
    super();
    this.stride = opts.stride ?? kernelSize;
    this.padding = opts.padding ?? 0;
  }
  protected get window(): { kernelSize: Pair; stride: Pair; padding: Pair } {
    return { kernelSize: this.kernelSize, stride: this.stride, padding: this.padding };
  }
  override extraRepr(): string {
    const f = (p: Pair) => (typeof p === 'number' ? String(p) : tuple(p));
    return `kernel_size=${f(this.kernelSize)}, stride=${f(this.stride)}, padding=${f(this.padding)}`;
  }
}

/** Max pooling as a layer. @example new nn.MaxPool2d(2).forward(randn([1, 8, 28, 28])).shape // [1, 8, 14, 14] */
export class MaxPool2d extends Pool2dBase {
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.window);
  }
  override extraRepr(): string {
    return `${super.extraRepr()}, dilation=1, ceil_mode=False`;
  }
}

/** Average pooling as a layer (count_include_pad). @example new nn.AvgPool2d(3, { stride: 1, padding: 1 }).forward(randn([1, 8, 7, 7])).shape // [1, 8, 7, 7] */
export class AvgPool2d extends Pool2dBase {
  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.window);
  }
}

/** Average pooling to a fixed output size (1 = global average pooling). @example new nn.AdaptiveAvgPool2d(1).forward(randn([2, 64, 7, 7])).shape // [2, 64, 1, 1] */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: Pair) {
    super();
  }
  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize);
  }
  override extraRepr(): string {
    return `output_size=${typeof this.outputSize === 'number' ? this.outputSize : tuple(this.outputSize)}`;
  }
}

/** Flattens dims startDim..endDim into one (default: everything but the batch dim). @example new nn.Flatten().forward(randn([2, 64, 1, 1])).shape // [2, 64] */
export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim);
  }
  override extraRepr(): string {
    return `start_dim=${this.startDim}, end_dim=${this.endDim}`;
  }
}

/** Returns its input (a placeholder, e.g. a backbone's removed classifier). @example const backbone = nn.resnet18Cifar({ width: 8 }); backbone.fc = new nn.Identity(); */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** Zeroes each element with probability p in training (scaling the rest by 1/(1−p)); identity in eval. @example new nn.Dropout(0.1).forward(ones([4, 4])) // zeros and 1.1111 */
export class Dropout extends Module {
  constructor(
    readonly p = 0.5,
    private readonly generator: Generator = defaultGenerator,
  ) {
    super();
    if (!(p >= 0 && p <= 1)) throw new Error(`Dropout: p must be in [0, 1], got ${p}`);
  }
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, { training: this.training, generator: this.generator });
  }
  override extraRepr(): string {
    return `p=${pyFloat(this.p)}, inplace=False`;
  }
}

/**
 * Runs its children in order; they are its properties 0, 1, 2… (`seq[0]`, `seq.at(-1)`).
 *
 * @example
 * const mlp = new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 256), new nn.ReLU(), new nn.Linear(256, 10));
 * mlp.forward(rand([32, 1, 28, 28])).shape; // [32, 10]
 * console.log(String(mlp));                  // printed as PyTorch prints it
 */
export class Sequential extends Module {
  [index: number]: Module;

  constructor(...modules: Module[]) {
    super();
    modules.forEach((m, i) => this.append(m, i));
  }

  get length(): number {
    return this.children().length;
  }

  /** The i-th child (negative counts from the end). */
  at(i: number): Module {
    const c = this.children();
    const m = c[i < 0 ? c.length + i : i];
    if (!m) throw new Error(`Sequential.at: index ${i} is out of range for ${c.length} modules`);
    return m;
  }

  append(m: Module, i = this.length): this {
    if (!(m instanceof Module)) throw new Error(`Sequential: child ${i} is not a Module`);
    this[i] = m;
    return this;
  }

  /** Runs the children in order; a batch norm layer, Linear or Conv2d followed by a ReLU layer runs fused (fusedReLU). */
  forward(x: Tensor): Tensor {
    const c = this.children();
    for (let i = 0; i < c.length; i++) {
      if (i + 1 < c.length && fusable(c[i], c[i + 1])) x = fusedReLU(c[i], c[++i], x);
      else x = c[i].forward(x);
    }
    return x;
  }
}
