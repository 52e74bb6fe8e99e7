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
// The formula tables (UNARY, BINARY, SCALAR, powExpr) are also what fuse() compiles from.
export const UNARY = {
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

/** Elementwise −x. @example neg(tensor([1, -2])) // [-1, 2] */
export const neg = (x: Tensor) => unary('neg', x);
/** Elementwise eˣ. @example exp(tensor([0, 1])) // [1, 2.71828] */
export const exp = (x: Tensor) => unary('exp', x);
/** Elementwise Natural logarithm (−∞ at 0, NaN below). @example log(tensor([1, Math.E])) // [0, 1] */
export const log = (x: Tensor) => unary('log', x);
/** Elementwise Square root. @example sqrt(tensor([4, 9])) // [2, 3] */
export const sqrt = (x: Tensor) => unary('sqrt', x);
/** Elementwise |x| (gradient sign(x), 0 at 0). @example abs(tensor([-3, 2])) // [3, 2] */
export const abs = (x: Tensor) => unary('abs', x);
/** Elementwise max(x, 0) (gradient 0 at 0, as PyTorch). @example relu(tensor([-1, 0.5])) // [0, 0.5] */
export const relu = (x: Tensor) => unary('relu', x);
/** Elementwise 1 / (1 + e⁻ˣ). @example sigmoid(tensor([0])) // [0.5] */
export const sigmoid = (x: Tensor) => unary('sigmoid', x);
/** Elementwise Hyperbolic tangent. @example tanh(tensor([0, 100])) // [0, 1] */
export const tanh = (x: Tensor) => unary('tanh', x);
/** Elementwise x². @example square(tensor([-3])) // [9] */
export const square = (x: Tensor) => unary('square', x);
/** Elementwise 1 / x. @example reciprocal(tensor([2, 4])) // [0.5, 0.25] */
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
export const BINARY = {
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
export const SCALAR = {
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
export function powExpr(x: string, e: string, exponent: number): string {
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

/** Elementwise a + b, broadcasting; b may be a number. @example add(tensor([[1], [2]]), tensor([10, 20])) // [[11, 21], [12, 22]] */
export const add = (a: Tensor, b: Operand) => binary('add', a, b);
/** Elementwise a − b, broadcasting; b may be a number. @example sub(tensor([5, 6]), 1) // [4, 5] */
export const sub = (a: Tensor, b: Operand) => binary('sub', a, b);
/** Elementwise a · b, broadcasting; b may be a number. @example mul(tensor([1, 2]), tensor([3, 4])) // [3, 8] */
export const mul = (a: Tensor, b: Operand) => binary('mul', a, b);
/** Elementwise a / b, broadcasting; b may be a number. @example div(tensor([1, 2]), 4) // [0.25, 0.5] */
export const div = (a: Tensor, b: Operand) => binary('div', a, b);
/** Elementwise aᵇ, broadcasting; b may be a number. @example pow(tensor([2, 3]), 2) // [4, 9] */
export const pow = (a: Tensor, b: Operand) => binary('pow', a, b);
/** Elementwise max(a, b) (gradient split evenly on ties), broadcasting; b may be a number. @example maximum(tensor([1, 5]), 3) // [3, 5] */
export const maximum = (a: Tensor, b: Operand) => binary('maximum', a, b);
/** Elementwise min(a, b) (gradient split evenly on ties), broadcasting; b may be a number. @example minimum(tensor([1, 5]), 3) // [1, 3] */
export const minimum = (a: Tensor, b: Operand) => binary('minimum', a, b);
/** Elementwise a > b as 1/0 (no gradient), broadcasting; b may be a number. @example gt(tensor([1, 5]), 3) // [0, 1] */
export const gt = (a: Tensor, b: Operand) => binary('gt', a, b);
/** Elementwise a < b as 1/0 (no gradient), broadcasting; b may be a number. @example lt(tensor([1, 5]), 3) // [1, 0] */
export const lt = (a: Tensor, b: Operand) => binary('lt', a, b);
/** Elementwise a ≥ b as 1/0 (no gradient), broadcasting; b may be a number. @example ge(tensor([3, 5]), 5) // [0, 1] */
export const ge = (a: Tensor, b: Operand) => binary('ge', a, b);
/** Elementwise a ≤ b as 1/0 (no gradient), broadcasting; b may be a number. @example le(tensor([3, 5]), 3) // [1, 0] */
export const le = (a: Tensor, b: Operand) => binary('le', a, b);
/** Elementwise a == b as 1/0 (no gradient), broadcasting; b may be a number. @example eq(argmax(tensor([[1, 9], [8, 2]]), 1), tensor([1, 1])) // [1, 0] */
export const eq = (a: Tensor, b: Operand) => binary('eq', a, b);

/**
 * cond ? a : b elementwise (cond != 0 selects a), broadcasting all three.
 *
 * @example
 * const x = tensor([-2, 3]);
 * where(x.gt(0), x, zerosLike(x)); // [0, 3], like relu
 */
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  const out = map([cond, a, b], 'select(x2, x1, x0 != 0.0)', 'where');
  return record(out, 'where', [cond, a, b], {}, (g) => [
    null,
    sumTo(map([g, cond], 'select(0.0, x0, x1 != 0.0)', 'where.backward'), a.shape),
    sumTo(map([g, cond], 'select(x0, 0.0, x1 != 0.0)', 'where.backward'), b.shape),
  ]);
}
