// The optimizer base class: parameter groups, per-parameter state kept on the GPU, zeroGrad, and
// state dicts in PyTorch's shape ({ state, paramGroups }, parameters numbered in group order).
// Subclasses (sgd.ts, adamw.ts) implement `step()` as one fused kernel dispatch per parameter.

import { Tensor } from '../tensor.ts';
import { keep } from '../scope.ts';
import { fmt, sameShape } from '../shape.ts';
import { noGrad } from '../autograd/graph.ts';
import { contiguous } from '../ops/shape.ts';
import { isAnomalyDetectionEnabled, checkUpdate } from '../autograd/anomaly.ts';

/** Hyper-parameters every optimizer has; subclasses add their own. */
export interface BaseHyper {
  lr: number;
  weightDecay: number;
}

/** A group of parameters sharing hyper-parameters; any hyper-parameter left out takes the optimizer's default. */
export type ParamGroupSpec<H> = { params: Iterable<Tensor> } & Partial<H>;

/** A parameter group as the optimizer holds it: its parameters and every hyper-parameter (set `lr` to schedule it). */
export type ParamGroup<H> = { params: Tensor[] } & H;

/** What `new SGD(...)` / `new AdamW(...)` accept as their first argument. */
export type ParamsArg<H> = Iterable<Tensor> | ParamGroupSpec<H>[];

/** Per-parameter state: GPU tensors (moment buffers) and host numbers (step counts). */
export type ParamState = Record<string, Tensor | number>;

/** Hyper-parameter values as saved in a state dict (plain JSON). */
export type HyperValue = number | boolean | number[];

/** An optimizer's state in PyTorch's shape: per-parameter state by number, and the groups' hyper-parameters. */
export interface OptimizerStateDict {
  /** State of parameter i (numbered across groups in order); parameters without state are absent. */
  state: Record<number, ParamState>;
  /** Hyper-parameters of each group and the numbers of its parameters. */
  paramGroups: (Record<string, HyperValue> & { params: number[] })[];
}

function isGroupList<H>(params: ParamsArg<H>): params is ParamGroupSpec<H>[] {
  return Array.isArray(params) && params.length > 0 && !(params[0] instanceof Tensor);
}

/**
 * Base class of the optimizers (SGD, AdamW): parameter groups with their own hyper-parameters,
 * per-parameter state on the GPU, step() / zeroGrad(), and PyTorch-shaped state dicts.
 *
 * @example
 * const model = new nn.Linear(10, 2);
 * const opt: optim.Optimizer<optim.SGDHyper> = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
 * crossEntropy(model.forward(randn([4, 10])), [0, 1, 1, 0]).backward();
 * opt.step();
 * opt.zeroGrad();
 * for (const g of opt.paramGroups) g.lr *= 0.1; // change a hyper-parameter
 * const saved = opt.stateDict();                 // momentum buffers + hyper-parameters
 */
export abstract class Optimizer<H extends BaseHyper = BaseHyper> {
  readonly paramGroups: ParamGroup<H>[];
  /** State of each parameter that has taken a step. */
  protected readonly state = new Map<Tensor, ParamState>();

  constructor(
    readonly name: string,
    params: ParamsArg<H>,
    readonly defaults: H,
  ) {
    const specs: ParamGroupSpec<H>[] = isGroupList(params) ? params : [{ params } as ParamGroupSpec<H>];
    const seen = new Set<Tensor>();
    this.paramGroups = specs.map((spec, gi) => {
      const list = [...spec.params];
      list.forEach((p, k) => {
        if (!(p instanceof Tensor)) throw new Error(`${name}: parameter ${k} of group ${gi} is not a Tensor`);
        if (seen.has(p))
          throw new Error(
            `${name}: a parameter (shape ${fmt(p.shape)}) appears in more than one place; each parameter may belong to one group once`,
          );
        if (!p.requiresGrad)
          throw new Error(
            `${name}: parameter ${k} of group ${gi} (shape ${fmt(p.shape)}) does not require grad; only leaf tensors with requiresGrad can be optimized`,
          );
        if (!p.isContiguous)
          throw new Error(
            `${name}: parameter ${k} of group ${gi} (shape ${fmt(p.shape)}) is not contiguous; optimizers update parameters in place and need contiguous ones`,
          );
        seen.add(p);
      });
      const given = Object.fromEntries(Object.entries(spec).filter(([k, v]) => k !== 'params' && v !== undefined));
      const group = { ...defaults, ...given, params: list } as ParamGroup<H>;
      this.checkHyper(group, gi);
      return group;
    });
    if (seen.size === 0) throw new Error(`${name}: got an empty parameter list`);
  }

  /** Validates a group's hyper-parameters (subclasses extend). */
  protected checkHyper(group: H, gi: number): void {
    const check = (what: string, v: number) => {
      if (!(Number.isFinite(v) && v >= 0))
        throw new Error(`${this.name}: invalid ${what} ${v} in group ${gi} (must be a finite number ≥ 0)`);
    };
    check('learning rate', group.lr);
    check('weightDecay', group.weightDecay);
  }

  /** Every parameter, in group order (the numbering state dicts use). */
  get params(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  /** Updates every parameter that has a gradient. */
  step(): void {
    noGrad(() => {
      for (const group of this.paramGroups) {
        for (const p of group.params) {
          if (!p.grad) continue;
          p.assertAlive(`${this.name}.step`);
          const g = p.grad.isContiguous ? p.grad : contiguous(p.grad);
          this.update(p, g, group);
          if (isAnomalyDetectionEnabled()) checkUpdate(p, `${this.name}.step`, g);
          if (g !== p.grad) g.dispose();
        }
      }
    });
  }

  /** One parameter's update (one kernel dispatch). */
  protected abstract update(p: Tensor, grad: Tensor, group: ParamGroup<H>): void;

  /** Drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  /** The state of one parameter (undefined before its first step). */
  stateOf(p: Tensor): Readonly<ParamState> | undefined {
    return this.state.get(p);
  }

  /**
   * State tensors (the optimizer's own, not copies: clone them to snapshot) and hyper-parameters.
   * Parameter numbers follow `params` (group order), as in PyTorch.
   */
  stateDict(): OptimizerStateDict {
    const index = new Map<Tensor, number>();
    this.params.forEach((p, i) => index.set(p, i));
    const state: Record<number, ParamState> = {};
    for (const [p, s] of this.state) state[index.get(p)!] = { ...s };
    const paramGroups = this.paramGroups.map((g) => {
      const { params, ...hyper } = g;
      return { ...(hyper as unknown as Record<string, HyperValue>), params: params.map((p) => index.get(p)!) };
    });
    return { state, paramGroups };
  }

  /**
   * Restores state and hyper-parameters from a state dict of an optimizer over parameters of the
   * same shapes in the same order. State tensors are copied, so the dict may be disposed afterwards.
   */
  loadStateDict(dict: OptimizerStateDict): void {
    const groups = dict.paramGroups;
    if (!Array.isArray(groups) || groups.length !== this.paramGroups.length) {
      throw new Error(
        `${this.name}.loadStateDict: the state dict has ${groups?.length ?? 0} parameter group(s), this optimizer ${this.paramGroups.length}`,
      );
    }
    const params = this.params;
    const sizes = groups.map((g) => g.params.length);
    const mine = this.paramGroups.map((g) => g.params.length);
    if (sizes.some((s, i) => s !== mine[i])) {
      throw new Error(`${this.name}.loadStateDict: group sizes differ: state dict [${sizes.join(', ')}], optimizer [${mine.join(', ')}]`);
    }
    // Validate everything before changing anything.
    const order = groups.flatMap((g) => g.params);
    const problems: string[] = [];
    for (const [key, s] of Object.entries(dict.state)) {
      const i = Number(key);
      const k = order.indexOf(i);
      if (k < 0) {
        problems.push(`state for parameter ${key}, which no group lists`);
        continue;
      }
      const p = params[k];
      for (const [name, v] of Object.entries(s)) {
        if (v instanceof Tensor && !sameShape(v.shape, p.shape))
          problems.push(`${name} of parameter ${key} has shape ${fmt(v.shape)}, the parameter ${fmt(p.shape)}`);
      }
    }
    if (problems.length) throw new Error(`${this.name}.loadStateDict: state dict does not fit this optimizer:\n  ${problems.join('\n  ')}`);

    groups.forEach((g, gi) => {
      const { params: _ignored, ...hyper } = g;
      Object.assign(this.paramGroups[gi], hyper);
      this.checkHyper(this.paramGroups[gi], gi);
    });
    this.disposeState();
    noGrad(() => {
      for (const [key, s] of Object.entries(dict.state)) {
        const p = params[order.indexOf(Number(key))];
        const copy: ParamState = {};
        for (const [name, v] of Object.entries(s)) copy[name] = v instanceof Tensor ? keep(contiguous(v, true)) : v;
        this.state.set(p, copy);
      }
    });
  }

  /** Frees the GPU state (the optimizer starts afresh on its next step). */
  disposeState(): void {
    for (const s of this.state.values()) for (const v of Object.values(s)) if (v instanceof Tensor) v.dispose();
    this.state.clear();
  }
}
