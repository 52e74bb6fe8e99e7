// Pointwise ops: one WGSL expression each (kernels/elementwise.wgsl does the indexing and
// broadcasting), plus a backward rule. Gradients of broadcast inputs are summed back to the
// input's shape (`sumTo`). Backward rules use `map` to fuse their pointwise steps.

import type { Tensor } from '../tensor.ts';
import { record } from '../autograd/graph.ts';
import { map } from './map.ts';
import { sumTo } from './reduce.ts';

type Operand = Tensor | number;

// ---- unary --------------------------------------------------------------------------------
// Each: WGSL expression of x0, and gradient as an expression of g (x0), x (x1), out (x2).
const UNARY = {
  neg: { f: '-x0', df: '-x0' },
  exp: { f: 'exp(x0)', df: 'x0 * x2' },
  log: { f: 'log(x0)', df: 'x0 / x1' },
  sqrt: { f: 'sqrt(x0)', df: 'x0 * 0.5 / x2' },
  abs: { f: 'abs(x0)', df: 'x0 * sign(x1)' },
  relu: { f: 'max(x0, 0.0)', df: 'select(0.0, x0, x1 > 0.0)' },
  sigmoid: { f: '1.0 / (1.0 + exp(-x0))', df: 'x0 * x2 * (1.0 - x2)' },
  // tanh of large |x| overflows exp() in some drivers' tanh: clamp where tanh is already ±1 in f32.
  tanh: { f: 'tanh(clamp(x0, -15.0, 15.0))', df: 'x0 * (1.0 - x2 * x2)' },
  square: { f: 'x0 * x0', df: '2.0 * x0 * x1' },
  reciprocal: { f: '1.0 / x0', df: '-x0 * x2 * x2' },
} as const;
export type UnaryOp = keyof typeof UNARY;

function unary(op: UnaryOp, x: Tensor): Tensor {
  const out = map([x], UNARY[op].f, op);
  return record(out, op, [x], {}, (g) => [map([g, x, out], UNARY[op].df, `${op}.backward`)]);
}

export const neg = (x: Tensor) => unary('neg', x);
export const exp = (x: Tensor) => unary('exp', x);
export const log = (x: Tensor) => unary('log', x);
export const sqrt = (x: Tensor) => unary('sqrt', x);
export const abs = (x: Tensor) => unary('abs', x);
export const relu = (x: Tensor) => unary('relu', x);
export const sigmoid = (x: Tensor) => unary('sigmoid', x);
export const tanh = (x: Tensor) => unary('tanh', x);
export const square = (x: Tensor) => unary('square', x);
export const reciprocal = (x: Tensor) => unary('reciprocal', x);

// ---- binary (tensor ⊕ tensor, broadcasting) ---------------------------------------------------
/**
 * WGSL for x^e with both operands per element, as torch.pow: WGSL's pow is undefined for x < 0,
 * so integer exponents go through |x| with the sign restored, and x^0 = 1 (also for x = 0).
 */
function powTensorExpr(x: string, e: string): string {
  const signed = `select(1.0, -1.0, ${x} < 0.0 && abs(${e}) % 2.0 == 1.0) * pow(abs(${x}), ${e})`;
  return `select(select(pow(${x}, ${e}), ${signed}, ${e} == round(${e})), 1.0, ${e} == 0.0)`;
}

// Gradients as expressions of g (x0), a (x1), b (x2); null = not differentiable.
const BINARY = {
  add: { f: 'x0 + x1', da: 'x0', db: 'x0' },
  sub: { f: 'x0 - x1', da: 'x0', db: '-x0' },
  mul: { f: 'x0 * x1', da: 'x0 * x2', db: 'x0 * x1' },
  div: { f: 'x0 / x1', da: 'x0 / x2', db: '-x0 * x1 / (x2 * x2)' },
  // d/da is 0 where b = 0, d/db is 0 where a = 0 and b >= 0 (as torch, instead of 0·inf).
  pow: {
    f: powTensorExpr('x0', 'x1'),
    da: `select(x0 * x2 * ${powTensorExpr('x1', 'x2 - 1.0')}, 0.0, x2 == 0.0)`,
    db: `select(x0 * ${powTensorExpr('x1', 'x2')} * log(x1), 0.0, x1 == 0.0 && x2 >= 0.0)`,
  },
  // Ties split the gradient evenly, as PyTorch does.
  maximum: { f: 'max(x0, x1)', da: 'x0 * select(select(0.0, 0.5, x1 == x2), 1.0, x1 > x2)', db: 'x0 * select(select(0.0, 0.5, x1 == x2), 1.0, x2 > x1)' },
  minimum: { f: 'min(x0, x1)', da: 'x0 * select(select(0.0, 0.5, x1 == x2), 1.0, x1 < x2)', db: 'x0 * select(select(0.0, 0.5, x1 == x2), 1.0, x2 < x1)' },
  gt: { f: 'select(0.0, 1.0, x0 > x1)', da: null, db: null },
  lt: { f: 'select(0.0, 1.0, x0 < x1)', da: null, db: null },
  ge: { f: 'select(0.0, 1.0, x0 >= x1)', da: null, db: null },
  le: { f: 'select(0.0, 1.0, x0 <= x1)', da: null, db: null },
  eq: { f: 'select(0.0, 1.0, x0 == x1)', da: null, db: null },
} as const;
export type BinaryOp = keyof typeof BINARY;

function binaryTensor(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const { f, da, db } = BINARY[op];
  const out = map([a, b], f, op);
  if (da === null || db === null) return out;
  return record(out, op, [a, b], {}, (g) => [
    sumTo(map([g, a, b], da, `${op}.backward`), a.shape),
    sumTo(map([g, a, b], db, `${op}.backward`), b.shape),
  ]);
}

// ---- tensor ⊕ scalar ----------------------------------------------------------------------------
// The scalar is a uniform (p.a), so `x.mul(0.5)` costs no upload. Gradient expressions of g (x0), x (x1).
const SCALAR = {
  addScalar: { f: 'x0 + p.a', df: 'x0' },
  mulScalar: { f: 'x0 * p.a', df: 'x0 * p.a' },
  rsubScalar: { f: 'p.a - x0', df: '-x0' },
  rdivScalar: { f: 'p.a / x0', df: '-x0 * p.a / (x1 * x1)' },
  maximumScalar: { f: 'max(x0, p.a)', df: 'x0 * select(select(0.0, 0.5, x1 == p.a), 1.0, x1 > p.a)' },
  minimumScalar: { f: 'min(x0, p.a)', df: 'x0 * select(select(0.0, 0.5, x1 == p.a), 1.0, x1 < p.a)' },
  gtScalar: { f: 'select(0.0, 1.0, x0 > p.a)', df: null },
  ltScalar: { f: 'select(0.0, 1.0, x0 < p.a)', df: null },
  eqScalar: { f: 'select(0.0, 1.0, x0 == p.a)', df: null },
} as const;
export type ScalarOp = keyof typeof SCALAR;

export function scalarOp(op: ScalarOp, x: Tensor, value: number): Tensor {
  const { f, df } = SCALAR[op];
  const out = map([x], f, op, value);
  if (df === null) return out;
  return record(out, op, [x], { value }, (g) => [map([g, x], df, `${op}.backward`, value)]);
}

/** WGSL for x^e with e a uniform; integer exponents work for negative x (WGSL's pow does not). */
function powExpr(x: string, e: string, exponent: number): string {
  if (!Number.isInteger(exponent)) return `pow(${x}, ${e})`;
  if (exponent === 0) return '1.0';
  const sign = exponent % 2 === 0 ? '1.0' : '-1.0';
  return `select(1.0, ${sign}, ${x} < 0.0) * pow(abs(${x}), ${e})`;
}

/** x^e for a constant exponent e. */
export function powScalar(x: Tensor, exponent: number): Tensor {
  const out = exponent === 2 ? map([x], 'x0 * x0', 'powScalar') : map([x], powExpr('x0', 'p.a', exponent), 'powScalar', exponent);
  return record(out, 'powScalar', [x], { exponent }, (g) => [
    exponent === 2
      ? map([g, x], '2.0 * x0 * x1', 'powScalar.backward')
      : map([g, x], `x0 * p.a * ${powExpr('x1', 'p.b', exponent - 1)}`, 'powScalar.backward', exponent, exponent - 1),
  ]);
}

/** 1 - mask, freeing the mask (an unrecorded 0/1 tensor). */
function notOf(mask: Tensor): Tensor {
  const out = scalarOp('rsubScalar', mask, 1);
  mask.dispose();
  return out;
}

function binary(op: BinaryOp, a: Tensor, b: Operand): Tensor {
  if (typeof b !== 'number') return binaryTensor(op, a, b);
  switch (op) {
    case 'add': return scalarOp('addScalar', a, b);
    case 'sub': return scalarOp('addScalar', a, -b);
    case 'mul': return scalarOp('mulScalar', a, b);
    case 'div': return scalarOp('mulScalar', a, 1 / b);
    case 'pow': return powScalar(a, b);
    case 'maximum': return scalarOp('maximumScalar', a, b);
    case 'minimum': return scalarOp('minimumScalar', a, b);
    case 'gt': return scalarOp('gtScalar', a, b);
    case 'lt': return scalarOp('ltScalar', a, b);
    case 'eq': return scalarOp('eqScalar', a, b);
    case 'ge': return notOf(scalarOp('ltScalar', a, b));
    case 'le': return notOf(scalarOp('gtScalar', a, b));
  }
}

export const add = (a: Tensor, b: Operand) => binary('add', a, b);
export const sub = (a: Tensor, b: Operand) => binary('sub', a, b);
export const mul = (a: Tensor, b: Operand) => binary('mul', a, b);
export const div = (a: Tensor, b: Operand) => binary('div', a, b);
export const pow = (a: Tensor, b: Operand) => binary('pow', a, b);
export const maximum = (a: Tensor, b: Operand) => binary('maximum', a, b);
export const minimum = (a: Tensor, b: Operand) => binary('minimum', a, b);
export const gt = (a: Tensor, b: Operand) => binary('gt', a, b);
export const lt = (a: Tensor, b: Operand) => binary('lt', a, b);
export const ge = (a: Tensor, b: Operand) => binary('ge', a, b);
export const le = (a: Tensor, b: Operand) => binary('le', a, b);
export const eq = (a: Tensor, b: Operand) => binary('eq', a, b);

/** cond ? a : b elementwise (cond != 0 selects a), broadcasting all three. */
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  const out = map([cond, a, b], 'select(x2, x1, x0 != 0.0)', 'where');
  return record(out, 'where', [cond, a, b], {}, (g) => [
    null,
    sumTo(map([g, cond], 'select(0.0, x0, x1 != 0.0)', 'where.backward'), a.shape),
    sumTo(map([g, cond], 'select(x0, 0.0, x1 != 0.0)', 'where.backward'), b.shape),
  ]);
}
