// MoCo as plain modules (official builder.py order):
//   q = normalize(head_q(f_q(x_q)))
//   with no grad: momentum update of the key encoder, shuffle the key batch, k = normalize(
//     head_k(f_k(x_k))), un-shuffle
//   loss = InfoNCE(q, k, queue, T)  (or NT-Xent / DCL with in-batch negatives)
//   enqueue k  (after the logits were computed; infoNCE copies the queue, so backward is unaffected)
// `step` returns the loss with its graph: the caller runs backward() and the optimizer, as in
// main_moco.py. `mechanism` picks where keys and negatives come from (MoCo §4.1, Fig. 3): 'queue'
// (MoCo), 'end-to-end' (keys from the query encoder with gradient, in-batch negatives) or
// 'memory-bank' (Wu et al.: the image's stored row is the positive, K random rows the negatives). Single device: "shuffle BN" shuffles the key batch and un-shuffles the keys;
// it only matters together with SplitBatchNorm (per-group statistics), as in the CIFAR demo.

import { Tensor } from '../tensor.ts';
import { noGrad } from '../autograd/graph.ts';
import { defaultGenerator, type Generator } from '../random.ts';
import { fromArray } from '../ops/creation-internal.ts';
import { indexSelect, concat } from '../ops/shape.ts';
import { Module } from '../nn/module.ts';
import * as nn from '../nn/index.ts';
import { KeyQueue } from './queue.ts';
import { MomentumEncoder, momentumAt } from './momentum.ts';
import { infoNCE, ntXent, dcl, inBatchInfoNCE } from './losses.ts';
import { MemoryBank } from './memory-bank.ts';
import { withPrefix, type ContrastiveMethod, type MethodState, type StepOutput } from './method.ts';

/** The contrastive loss MoCo.step uses. */
export type LossKind = 'infonce' | 'ntxent' | 'dcl';

/** Where keys and negatives come from (MoCo §4.1, Fig. 3). */
export type Mechanism = 'queue' | 'end-to-end' | 'memory-bank';

/** Options of the MoCo model (defaults: dim 128, K 4096, m 0.99, T 0.1, MLP head, shuffle BN). */
export interface MoCoOptions {
  /** Backbone: maps images to features of size `featureDim`. */
  encoder: Module & { featureDim?: number };
  featureDim?: number;
  dim?: number;
  K?: number;
  m?: number;
  T?: number;
  /** MoCo v2 MLP head (hidden = featureDim) instead of v1's linear head. */
  mlp?: boolean;
  /** loss(q1,k2) + loss(q2,k1), enqueue both key batches. */
  symmetric?: boolean;
  /** Shuffle the key batch before the key encoder and un-shuffle the keys. */
  shuffleBN?: boolean;
  loss?: LossKind;
  momentumSchedule?: 'constant' | 'cosine';
  /**
   * 'queue' (default, MoCo), 'end-to-end' (keys from the query encoder, in-batch negatives) or
   * 'memory-bank' (K random rows of a bank of `bankSize` image representations; `step` needs the
   * batch's dataset indices). The last two use neither the key encoder nor the queue.
   */
  mechanism?: Mechanism;
  /** Memory bank: number of training images (bank rows). */
  bankSize?: number;
  /** Memory bank: the update's momentum (0.5, as in the paper's reimplementation). */
  bankMomentum?: number;
  generator?: Generator;
}

export type { StepOutput } from './method.ts';

class Normalized extends Module {
  constructor(
    readonly backbone: Module,
    readonly head: Module,
  ) {
    super();
  }
  override forward(x: Tensor): Tensor {
    const z = this.head.forward(this.backbone.forward(x));
    return z.div(z.square().sum(1, true).sqrt().maximum(1e-12));
  }
}

/**
 * MoCo v1/v2: query encoder + head, momentum key encoder, queue and InfoNCE, in the official order.
 * @example
 * const model = new MoCo({ encoder: new nn.SmallConvNet({ width: 2 }), dim: 8, K: 16 });
 * const x = rand([4, 1, 12, 12]);
 * const { loss, accuracy } = model.step(x, x); // normally two augmented views of a batch
 * loss.backward();
 */
export class MoCo implements ContrastiveMethod {
  readonly opts: Required<Omit<MoCoOptions, 'encoder' | 'featureDim' | 'generator' | 'bankSize'>>;
  readonly encoderQ: Module;
  readonly momentum: MomentumEncoder;
  readonly queue: KeyQueue;
  /** The memory bank (mechanism 'memory-bank' only). */
  readonly memoryBank: MemoryBank | null = null;
  private gen: Generator;
  /** The key-batch permutation of the last shuffled step (for tests and debugging). */
  lastPermutation: Int32Array | null = null;

  constructor(o: MoCoOptions) {
    this.opts = {
      dim: o.dim ?? 128,
      K: o.K ?? 4096,
      m: o.m ?? 0.99,
      T: o.T ?? 0.1,
      mlp: o.mlp ?? true,
      symmetric: o.symmetric ?? false,
      shuffleBN: o.shuffleBN ?? true,
      loss: o.loss ?? 'infonce',
      momentumSchedule: o.momentumSchedule ?? 'constant',
      mechanism: o.mechanism ?? 'queue',
      bankMomentum: o.bankMomentum ?? 0.5,
    };
    const { mechanism } = this.opts;
    if (!['queue', 'end-to-end', 'memory-bank'].includes(mechanism))
      throw new Error(`MoCo: unknown mechanism '${mechanism}' (expected queue, end-to-end or memory-bank)`);
    // End-to-end with NT-Xent or DCL over the 2N views is SimCLR; the memory bank has only InfoNCE.
    const lossOk = mechanism === 'queue' || this.opts.loss === 'infonce' || mechanism === 'end-to-end';
    if (mechanism !== 'queue' && (this.opts.symmetric || !lossOk)) {
      throw new Error(
        `MoCo: mechanism '${mechanism}' supports only the non-symmetric ${mechanism === 'end-to-end' ? 'InfoNCE, NT-Xent or DCL' : 'InfoNCE'} loss (got loss '${this.opts.loss}'${this.opts.symmetric ? ', symmetric' : ''})`,
      );
    }
    if (mechanism === 'memory-bank' && !(Number.isInteger(o.bankSize) && o.bankSize! > 0)) {
      throw new Error(`MoCo: mechanism 'memory-bank' needs bankSize, the number of training images (got ${o.bankSize})`);
    }
    this.gen = o.generator ?? defaultGenerator;
    const feat = o.featureDim ?? o.encoder.featureDim;
    if (!feat) throw new Error('MoCo: pass featureDim (the backbone output size) or an encoder with a featureDim property');
    const { dim } = this.opts;
    const head = this.opts.mlp
      ? new nn.Sequential(new nn.Linear(feat, feat), new nn.ReLU(), new nn.Linear(feat, dim))
      : new nn.Linear(feat, dim);
    this.encoderQ = new Normalized(o.encoder, head);
    this.momentum = new MomentumEncoder(this.encoderQ);
    this.queue = new KeyQueue({ size: this.opts.K, dim, generator: this.gen });
    if (mechanism === 'memory-bank') this.memoryBank = new MemoryBank({ size: o.bankSize!, dim, generator: this.gen });
  }

  /** The query backbone (features for kNN / linear probe). */
  get backbone(): Module {
    return (this.encoderQ as Normalized).backbone;
  }

  /** Parameters the optimizer trains (query encoder + head). */
  parameters(): Tensor[] {
    return [...this.encoderQ.namedParameters()].map(([, p]) => p);
  }

  train(): void {
    this.encoderQ.train();
    this.momentum.key.train();
  }

  /** Query and key encoders, queue (+ pointer) and memory bank: what --resume restores. */
  state(): MethodState {
    const tensors: Record<string, Tensor> = { queue: this.queue.tensor };
    for (const [k, t] of Object.entries(this.encoderQ.stateDict())) tensors[`query.${k}`] = t;
    for (const [k, t] of Object.entries(this.momentum.key.stateDict())) tensors[`key.${k}`] = t;
    if (this.memoryBank) tensors.memoryBank = this.memoryBank.tensor;
    return { tensors, numbers: { queuePtr: this.queue.ptr } };
  }

  loadState(s: MethodState): void {
    this.encoderQ.loadStateDict(withPrefix(s.tensors, 'query.'));
    this.momentum.key.loadStateDict(withPrefix(s.tensors, 'key.'));
    this.queue.load(s.tensors.queue, s.numbers.queuePtr);
    if (this.memoryBank) {
      if (!s.tensors.memoryBank)
        throw new Error('MoCo.loadState: the checkpoint has no memory bank; it was not written by a --mechanism memory-bank run');
      this.memoryBank.load(s.tensors.memoryBank);
    }
  }

  /** Keys for a batch: shuffled through the key encoder and un-shuffled (no grad). */
  keys(xk: Tensor): Tensor {
    return noGrad(() => this.shuffled(this.momentum.key, xk));
  }

  /** encoder(xk), with the batch shuffled before and un-shuffled after when shuffle BN is on. */
  private shuffled(encoder: Module, xk: Tensor): Tensor {
    if (!this.opts.shuffleBN) return encoder.forward(xk);
    const n = xk.shape[0];
    const perm = this.gen.permutation(n);
    this.lastPermutation = perm;
    const inverse = new Int32Array(n);
    perm.forEach((p, i) => (inverse[p] = i));
    const shuffled = indexSelect(xk, 0, fromArray(perm, [n], 'int32'));
    const k = encoder.forward(shuffled);
    return indexSelect(k, 0, fromArray(inverse, [n], 'int32'));
  }

  private contrast(q: Tensor, k: Tensor): StepOutput {
    const { T, loss } = this.opts;
    if (loss === 'ntxent') return ntXent(q, k, T);
    if (loss === 'dcl') return dcl(q, k, T);
    return infoNCE(q, k, this.queue, T);
  }

  /**
   * One MoCo forward: returns the loss (call backward() and the optimizer next) and the pretext
   * accuracy; updates the key encoder before computing keys and the queue after the loss.
   * `progress` in [0, 1] drives the optional cosine momentum schedule. `indices`: the batch's
   * dataset indices (needed by the memory bank).
   */
  step(xq: Tensor, xk: Tensor, progress = 0, indices?: ArrayLike<number>): StepOutput {
    if (xq.shape[0] !== xk.shape[0])
      throw new Error(`MoCo.step: the two views have different batch sizes (${xq.shape[0]} and ${xk.shape[0]})`);
    if (this.opts.mechanism === 'end-to-end') return this.endToEnd(xq, xk);
    if (this.opts.mechanism === 'memory-bank') return this.memoryBankStep(xq, indices);
    this.momentum.update(momentumAt(this.opts.m, progress, this.opts.momentumSchedule));
    if (this.opts.symmetric) {
      const q1 = this.encoderQ.forward(xq);
      const q2 = this.encoderQ.forward(xk);
      const k1 = this.keys(xq);
      const k2 = this.keys(xk);
      const a = this.contrast(q1, k2);
      const b = this.contrast(q2, k1);
      if (this.opts.loss === 'infonce') this.queue.enqueue(noGrad(() => concat([k1, k2], 0)));
      return { loss: a.loss.add(b.loss), accuracy: noGrad(() => a.accuracy.add(b.accuracy).mul(0.5)), logits: a.logits };
    }
    const q = this.encoderQ.forward(xq);
    const k = this.keys(xk);
    const out = this.contrast(q, k);
    if (this.opts.loss === 'infonce') this.queue.enqueue(k);
    return out;
  }

  /** End-to-end (Fig. 3a): keys from the query encoder with gradient, the batch's other keys as negatives (SimCLR with NT-Xent). */
  private endToEnd(xq: Tensor, xk: Tensor): StepOutput {
    const q = this.encoderQ.forward(xq);
    const k = this.shuffled(this.encoderQ, xk);
    if (this.opts.loss === 'ntxent') return ntXent(q, k, this.opts.T); // SimCLR
    if (this.opts.loss === 'dcl') return dcl(q, k, this.opts.T);
    return inBatchInfoNCE(q, k, this.opts.T);
  }

  /** Memory bank (Fig. 3b): positive = the image's stored row, negatives = K random rows; then update the rows. */
  private memoryBankStep(xq: Tensor, indices: ArrayLike<number> | undefined): StepOutput {
    const bank = this.memoryBank!;
    const n = xq.shape[0];
    if (!indices) throw new Error(`MoCo.step: mechanism 'memory-bank' needs the batch's dataset indices: step(xq, xk, progress, indices)`);
    if (indices.length !== n) throw new Error(`MoCo.step: ${indices.length} dataset indices for a batch of ${n} images`);
    for (let i = 0; i < n; i++) {
      const v = indices[i];
      if (!Number.isInteger(v) || v < 0 || v >= bank.size)
        throw new Error(
          `MoCo.step: dataset index ${v} is out of range 0..${bank.size - 1} (the memory bank has bankSize ${bank.size} rows)`,
        );
    }
    const q = this.encoderQ.forward(xq);
    const positives = bank.rows(indices);
    const negatives = bank.sample(this.opts.K);
    const out = infoNCE(q, positives, negatives, this.opts.T);
    bank.update(indices, q.detach(), this.opts.bankMomentum);
    return out;
  }
}
