// The momentum (key) encoder: an exact copy of the query encoder that never receives gradients
// and follows it by an exponential moving average of the parameters,
//   θ_k ← m·θ_k + (1 − m)·θ_q            (MoCo, Eq. 2)
// BN running statistics are not averaged: the key encoder's own forward passes update them.

import { Tensor } from '../tensor.ts';
import { keep } from '../scope.ts';
import { noGrad } from '../autograd/graph.ts';
import { clone } from '../ops/shape.ts';
import { mapInto } from '../ops/map.ts';
import { Module } from '../nn/module.ts';
import { fmt } from '../shape.ts';

/**
 * Deep copy of a module tree: same classes and settings, tensors copied on the GPU.
 * @example
 * const copy = cloneModule(new nn.Linear(4, 2)); // same weights, separate GPU buffers
 */
export function cloneModule<M extends Module>(m: M): M {
  const memo = new Map<unknown, unknown>();
  const copy = (v: unknown): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (memo.has(v)) return memo.get(v);
    if (v instanceof Tensor) {
      const t = keep(noGrad(() => clone(v)));
      memo.set(v, t);
      return t;
    }
    if (Array.isArray(v)) {
      const a: unknown[] = [];
      memo.set(v, a);
      for (const x of v) a.push(copy(x));
      return a;
    }
    if (v instanceof Map) {
      const mm = new Map();
      memo.set(v, mm);
      for (const [k, x] of v) mm.set(k, copy(x));
      return mm;
    }
    const proto = Object.getPrototypeOf(v);
    if (v instanceof Module || proto === Object.prototype) {
      const o = Object.create(proto);
      memo.set(v, o);
      for (const [k, x] of Object.entries(v)) o[k] = copy(x);
      return o;
    }
    return v; // generators, functions, other shared objects
  };
  return copy(m) as M;
}

/** θ_k ← m·θ_k + (1 − m)·θ_q, one in-place kernel per parameter. */
export function momentumUpdate(key: Module, query: Module, m: number): void {
  if (!(m >= 0 && m <= 1)) throw new Error(`momentumUpdate: momentum must be in [0, 1] (got ${m})`);
  const kp = [...key.namedParameters()];
  const qp = [...query.namedParameters()];
  if (kp.length !== qp.length) throw new Error(`momentumUpdate: key encoder has ${kp.length} parameters, query encoder ${qp.length}`);
  noGrad(() => {
    kp.forEach(([name, pk], i) => {
      const [qname, pq] = qp[i];
      if (name !== qname)
        throw new Error(`momentumUpdate: parameter '${name}' of the key encoder pairs with '${qname}' of the query encoder`);
      if (fmt(pk.shape) !== fmt(pq.shape)) {
        throw new Error(
          `momentumUpdate: parameter '${name}' has shape ${fmt(pk.shape)} in the key encoder but ${fmt(pq.shape)} in the query encoder; the key encoder must be a copy of the query encoder (cloneModule)`,
        );
      }
      mapInto(pk, [pk, pq], 'x0 * p.a + x1 * p.b', 'momentumUpdate', m, 1 - m); // 1 − m in float64, as PyTorch
    });
  });
}

/**
 * Momentum schedule: constant m, or cosine from m to 1 over training (BYOL / MoCo v3).
 * @example
 * momentumAt(0.99, 0.5, 'cosine') // 0.995
 */
export function momentumAt(base: number, progress: number, schedule: 'constant' | 'cosine'): number {
  if (schedule === 'constant') return base;
  return 1 - ((1 - base) * (Math.cos(Math.PI * Math.min(1, Math.max(0, progress))) + 1)) / 2;
}

/**
 * The key encoder of MoCo: a copy of the query module that follows it by θ_k ← m·θ_k + (1 − m)·θ_q.
 * @example
 * const enc = new MomentumEncoder(new nn.Linear(4, 2));
 * enc.update(0.99); // enc.key's parameters move 1% towards enc.query's
 */
export class MomentumEncoder<M extends Module = Module> {
  readonly query: M;
  readonly key: M;

  constructor(query: M) {
    this.query = query;
    this.key = cloneModule(query);
    for (const [, p] of this.key.namedParameters()) p.requiresGrad = false;
  }

  /** θ_k ← m·θ_k + (1 − m)·θ_q for every parameter. */
  update(m: number): void {
    if (!(m >= 0 && m <= 1)) throw new Error(`MomentumEncoder.update: momentum must be in [0, 1] (got ${m})`);
    momentumUpdate(this.key, this.query, m);
  }
}
