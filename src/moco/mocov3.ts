// MoCo v3 (Chen, Xie, He, ICCV 2021, arXiv 2104.02057) with wgrad's convolutional encoders, in
// the official moco-v3 builder.py order:
//   q1 = h(g(f(x1))), q2 = h(g(f(x2)))           (query: backbone f, projector g, predictor h)
//   with no grad: θ_k ← m·θ_k + (1−m)·θ_q over f and g, then k1 = g_k(f_k(x1)), k2 = g_k(f_k(x2))
//   loss = ctr(q1, k2) + ctr(q2, k1),  ctr(q, k) = 2τ · CE(normalize(q)·normalize(k)ᵀ / τ, diag)
// No queue: the keys of the batch are the negatives. m follows a cosine schedule from m to 1.
// Heads as the official ResNet setting: 2-layer projector with BN after the last layer too,
// 2-layer predictor.

import { Tensor } from '../tensor.ts';
import { noGrad } from '../autograd/graph.ts';
import { Module } from '../nn/module.ts';
import { normalize } from '../ops/norm.ts';
import { inBatchInfoNCE } from './losses.ts';
import { MomentumEncoder, momentumAt } from './momentum.ts';
import { mlpHead } from './heads.ts';
import { withPrefix, type ContrastiveMethod, type MethodState, type StepOutput } from './method.ts';

/** Options of MoCo v3 (official ResNet-50 setting: dim 256, mlpDim 4096, m 0.99 cosine, T 1.0). */
export interface MoCoV3Options {
  /** Backbone: maps images to features of size `featureDim`. */
  encoder: Module & { featureDim?: number };
  featureDim?: number;
  /** Output size of projector and predictor (default 128). */
  dim?: number;
  /** Hidden width of both MLPs (default 4 × dim). */
  mlpDim?: number;
  /** Base momentum of the key encoder (0.99). */
  m?: number;
  /** Softmax temperature (official: 1.0 for ResNets, 0.2 for ViTs; default 0.2). */
  T?: number;
  /** 'cosine' (default, from m to 1 over training) or 'constant'. */
  momentumSchedule?: 'constant' | 'cosine';
}

/** Backbone + projector: the part of MoCo v3's query encoder that the momentum encoder copies. */
export class ProjectedEncoder extends Module {
  constructor(
    readonly backbone: Module,
    readonly projector: Module,
  ) {
    super();
  }
  override forward(x: Tensor): Tensor {
    return this.projector.forward(this.backbone.forward(x));
  }
}

/** The query network: backbone, projector and the predictor on top. */
export class MoCoV3Network extends Module {
  constructor(
    readonly base: ProjectedEncoder,
    readonly predictor: Module,
  ) {
    super();
  }
  override forward(x: Tensor): Tensor {
    return this.predictor.forward(this.base.forward(x));
  }
}

/**
 * MoCo v3: predictor on the query side, in-batch keys from the momentum encoder, symmetric loss.
 * @example
 * const model = new MoCoV3({ encoder: new nn.SmallConvNet({ width: 2 }), dim: 8 });
 * const [x1, x2] = [rand([4, 1, 12, 12]), rand([4, 1, 12, 12])]; // two augmented views of a batch
 * const { loss } = model.step(x1, x2, 0.5); // progress 0.5: m halfway from 0.99 to 1
 * loss.backward();
 */
export class MoCoV3 implements ContrastiveMethod {
  readonly opts: Required<Omit<MoCoV3Options, 'encoder' | 'featureDim'>>;
  readonly net: MoCoV3Network;
  readonly momentum: MomentumEncoder<ProjectedEncoder>;
  /** The momentum used by the last step (after the schedule). */
  lastMomentum = NaN;

  constructor(o: MoCoV3Options) {
    const feat = o.featureDim ?? o.encoder.featureDim;
    if (!feat) throw new Error('MoCoV3: pass featureDim (the backbone output size) or an encoder with a featureDim property');
    const dim = o.dim ?? 128;
    this.opts = { dim, mlpDim: o.mlpDim ?? 4 * dim, m: o.m ?? 0.99, T: o.T ?? 0.2, momentumSchedule: o.momentumSchedule ?? 'cosine' };
    if (!(this.opts.T > 0)) throw new Error(`MoCoV3: temperature T must be > 0 (got ${this.opts.T})`);
    const base = new ProjectedEncoder(o.encoder, mlpHead(2, feat, this.opts.mlpDim, dim, true));
    this.net = new MoCoV3Network(base, mlpHead(2, dim, this.opts.mlpDim, dim, false));
    this.momentum = new MomentumEncoder(base);
  }

  get backbone(): Module {
    return this.net.base.backbone;
  }

  parameters(): Tensor[] {
    return this.net.parameters();
  }

  train(): void {
    this.net.train();
    this.momentum.key.train();
  }

  /** 2τ · InfoNCE of normalize(q) against the in-batch keys normalize(k) (keys detached). */
  private contrastive(q: Tensor, k: Tensor) {
    const T = this.opts.T;
    const out = inBatchInfoNCE(
      normalize(q),
      noGrad(() => normalize(k)),
      T,
    );
    return { ...out, loss: out.loss.mul(2 * T) };
  }

  step(x1: Tensor, x2: Tensor, progress = 0): StepOutput {
    if (x1.shape[0] !== x2.shape[0])
      throw new Error(`MoCoV3.step: the two views have different batch sizes (${x1.shape[0]} and ${x2.shape[0]})`);
    const q1 = this.net.forward(x1);
    const q2 = this.net.forward(x2);
    this.lastMomentum = momentumAt(this.opts.m, progress, this.opts.momentumSchedule);
    this.momentum.update(this.lastMomentum);
    const [k1, k2] = noGrad(() => [this.momentum.key.forward(x1), this.momentum.key.forward(x2)]);
    const a = this.contrastive(q1, k2);
    const b = this.contrastive(q2, k1);
    return { loss: a.loss.add(b.loss), accuracy: noGrad(() => a.accuracy.add(b.accuracy).mul(0.5)), logits: a.logits };
  }

  state(): MethodState {
    const tensors: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(this.net.stateDict())) tensors[`query.${k}`] = t;
    for (const [k, t] of Object.entries(this.momentum.key.stateDict())) tensors[`key.${k}`] = t;
    return { tensors, numbers: {} };
  }

  loadState(s: MethodState): void {
    this.net.loadStateDict(withPrefix(s.tensors, 'query.'));
    this.momentum.key.loadStateDict(withPrefix(s.tensors, 'key.'));
  }
}
