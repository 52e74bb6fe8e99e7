// What the training loop, the checkpoint and the evaluation need of a self-supervised method
// (MoCo v1/v2 with its mechanisms, MoCo v3, NNCLR): one step on two views, the trained
// parameters, the backbone whose features are evaluated, and the state a checkpoint must hold.

import type { Tensor } from '../tensor.ts';
import type { Module } from '../nn/module.ts';

/** What a method's step returns. */
export interface StepOutput {
  loss: Tensor;
  /** Pretext accuracy (fraction with the positive ranked first), scalar tensor. */
  accuracy: Tensor;
  logits?: Tensor;
}

/** The state a checkpoint holds to resume a method exactly: tensors by name, and plain numbers. */
export interface MethodState {
  tensors: Record<string, Tensor>;
  numbers: Record<string, number>;
}

/** A self-supervised method the `wgrad-moco` training loop can run. */
export interface ContrastiveMethod {
  /**
   * One forward on two views of a batch: the loss (call backward() and the optimizer next) and the
   * pretext accuracy. `progress` in [0, 1] drives momentum schedules; `indices` are the batch's
   * dataset indices (the memory bank needs them).
   */
  step(x1: Tensor, x2: Tensor, progress?: number, indices?: ArrayLike<number>): StepOutput;
  /** Parameters the optimizer trains. */
  parameters(): Tensor[];
  /** Training mode for every module the method runs. */
  train(): void;
  /** The backbone whose features the kNN monitor and the linear probe evaluate. */
  readonly backbone: Module;
  /** Everything besides the optimizer that --resume needs. */
  state(): MethodState;
  /** Restores what state() returned (from a checkpoint). */
  loadState(state: MethodState): void;
}

/** The tensors of `state` whose names start with `prefix`, with the prefix removed. */
export function withPrefix(tensors: Record<string, Tensor>, prefix: string): Record<string, Tensor> {
  return Object.fromEntries(
    Object.entries(tensors)
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, t]) => [k.slice(prefix.length), t]),
  );
}
