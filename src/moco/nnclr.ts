// NNCLR (Dwibedi et al., ICCV 2021, arXiv 2104.14548) as modules beside MoCo's:
//   z = normalize(g(f(x))) (projection head g), p = normalize(h(g(f(x)))) (prediction head h)
//   the positive of view 1 is NN(z1, Q), the nearest neighbour of z1 in the support set Q
//   loss = ½ [CE(NN(z1,Q)·p2ᵀ/τ, diag) + CE(NN(z2,Q)·p1ᵀ/τ, diag)]   (paper Eq. 2, symmetrised as
//   solo-learn and lightly do: the other images' predictions of the batch are the negatives)
//   then z1 (detached) is appended to Q.
// Neighbours come from Q and carry no gradient: f and g learn through the predictions.
// Heads as in the paper: a 3-layer projection MLP with BN (last layer too), a 2-layer prediction MLP.

import { Tensor } from '../tensor.ts';
import { noGrad } from '../autograd/graph.ts';
import { keep } from '../scope.ts';
import { normalize } from '../ops/norm.ts';
import { Module } from '../nn/module.ts';
import { defaultGenerator, type Generator } from '../random.ts';
import { inBatchInfoNCE } from './losses.ts';
import { SupportSet } from './support-set.ts';
import { mlpHead } from './heads.ts';
import { withPrefix, type ContrastiveMethod, type MethodState, type StepOutput } from './method.ts';

/** Options of NNCLR (paper: support set 98,304, τ 0.1, heads 2048/4096 wide, output 256). */
export interface NNCLROptions {
  /** Backbone: maps images to features of size `featureDim`. */
  encoder: Module & { featureDim?: number };
  featureDim?: number;
  /** Size of the projections and predictions (default 128). */
  dim?: number;
  /** Support-set size (default 4096: the small datasets here have 60,000 images). */
  supportSetSize?: number;
  /** Softmax temperature τ (0.1). */
  temperature?: number;
  /** Hidden width of the projection MLP (default: featureDim). */
  projectionHeadWidth?: number;
  /** Hidden width of the prediction MLP (default 4 × dim, the paper's 4096 for 256 … 1024). */
  predictionHeadWidth?: number;
  /** Linear layers of the projection MLP (3, as in the paper). */
  projectionLayers?: number;
  generator?: Generator;
}

/** Backbone, projection head and prediction head: the one network NNCLR trains. */
export class NNCLRNetwork extends Module {
  constructor(
    readonly backbone: Module,
    readonly projector: Module,
    readonly predictor: Module,
  ) {
    super();
  }

  /** z = normalize(g(f(x))) (detached: it only feeds the support set) and p = normalize(h(g(f(x)))). */
  embed(x: Tensor): { z: Tensor; p: Tensor } {
    const y = this.projector.forward(this.backbone.forward(x));
    return { z: noGrad(() => normalize(y.detach())), p: normalize(this.predictor.forward(y)) };
  }

  override forward(x: Tensor): Tensor {
    return this.embed(x).p;
  }
}

/**
 * NNCLR: nearest-neighbour positives from a FIFO support set, in-batch negatives.
 * @example
 * const model = new NNCLR({ encoder: new nn.SmallConvNet({ width: 2 }), dim: 8, supportSetSize: 16 });
 * const [x1, x2] = [rand([4, 1, 12, 12]), rand([4, 1, 12, 12])]; // two augmented views of a batch
 * const { loss } = model.step(x1, x2);
 * loss.backward();
 */
export class NNCLR implements ContrastiveMethod {
  readonly opts: Required<Omit<NNCLROptions, 'encoder' | 'featureDim' | 'generator'>>;
  readonly net: NNCLRNetwork;
  readonly supportSet: SupportSet;
  /** With recordNeighbours(): the support-set rows chosen as positives in the last step, per view. */
  lastNeighbourIndices: [Tensor | null, Tensor | null] = [null, null];
  private trackIndices = false;

  constructor(o: NNCLROptions) {
    const feat = o.featureDim ?? o.encoder.featureDim;
    if (!feat) throw new Error('NNCLR: pass featureDim (the backbone output size) or an encoder with a featureDim property');
    const dim = o.dim ?? 128;
    this.opts = {
      dim,
      supportSetSize: o.supportSetSize ?? 4096,
      temperature: o.temperature ?? 0.1,
      projectionHeadWidth: o.projectionHeadWidth ?? feat,
      predictionHeadWidth: o.predictionHeadWidth ?? 4 * dim,
      projectionLayers: o.projectionLayers ?? 3,
    };
    if (!(this.opts.temperature > 0)) throw new Error(`NNCLR: temperature must be > 0 (got ${this.opts.temperature})`);
    const { projectionLayers: layers, projectionHeadWidth: pw, predictionHeadWidth: hw } = this.opts;
    this.net = new NNCLRNetwork(o.encoder, mlpHead(layers, feat, pw, dim, true), mlpHead(2, dim, hw, dim, false));
    this.supportSet = new SupportSet({ size: this.opts.supportSetSize, dim, generator: o.generator ?? defaultGenerator });
  }

  get backbone(): Module {
    return this.net.backbone;
  }

  parameters(): Tensor[] {
    return this.net.parameters();
  }

  train(): void {
    this.net.train();
  }

  /** Keep the chosen support-set rows of each step in lastNeighbourIndices (tests, debugging). */
  recordNeighbours(on = true): void {
    this.trackIndices = on;
  }

  step(x1: Tensor, x2: Tensor): StepOutput {
    if (x1.shape[0] !== x2.shape[0])
      throw new Error(`NNCLR.step: the two views have different batch sizes (${x1.shape[0]} and ${x2.shape[0]})`);
    const a = this.net.embed(x1);
    const b = this.net.embed(x2);
    const nn1 = this.supportSet.nearest(a.z);
    const nn2 = this.supportSet.nearest(b.z);
    const T = this.opts.temperature;
    const l12 = inBatchInfoNCE(nn1.neighbours, b.p, T);
    const l21 = inBatchInfoNCE(nn2.neighbours, a.p, T);
    if (this.trackIndices) {
      for (const t of this.lastNeighbourIndices) t?.dispose();
      this.lastNeighbourIndices = [nn1.indices && keep(nn1.indices), nn2.indices && keep(nn2.indices)];
    }
    this.supportSet.enqueue(a.z);
    return { loss: l12.loss.add(l21.loss).mul(0.5), accuracy: noGrad(() => l12.accuracy.add(l21.accuracy).mul(0.5)), logits: l12.logits };
  }

  state(): MethodState {
    const tensors: Record<string, Tensor> = { supportSet: this.supportSet.queue.tensor };
    for (const [k, t] of Object.entries(this.net.stateDict())) tensors[`net.${k}`] = t;
    return { tensors, numbers: { supportSetPtr: this.supportSet.queue.ptr, supportSetFilled: this.supportSet.filled } };
  }

  loadState(s: MethodState): void {
    this.net.loadStateDict(withPrefix(s.tensors, 'net.'));
    this.supportSet.load(s.tensors.supportSet, s.numbers.supportSetPtr, s.numbers.supportSetFilled);
  }
}
