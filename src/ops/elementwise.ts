// Pointwise ops: one WGSL expression each (kernels/elementwise.wgsl does the indexing and
// broadcasting), plus a backward rule. Gradients of broadcast inputs are summed back to the
// input's shape (`sumTo`). Backward rules use `map` to fuse their pointwise steps.

import type { Tensor } from '../tensor.ts';
import { record } from '../autograd/graph.ts';
import { map } from './map.ts';
import { sumTo } from './reduce.ts';
import { checkDType, promote, scalarDType, type DType } from '../dtype.ts';

/**
 * The int32 form of a formula: its float literals made integers (`max(x0, 0.0)` → `max(x0, 0)`).
 * Only the ops in INT_OPS have one; the others compute in float32 (PyTorch: exp of an integer
 * tensor is float) or refuse int32 (intOnlyError).
 */
const intForm = (expr: string) => expr.replace(/\b(\d+)\.0\b/g, '$1');
const INT_OPS = new Set(['neg', 'abs', 'relu', 'square', 'add', 'sub', 'mul', 'maximum', 'minimum', 'gt', 'lt', 'ge', 'le', 'eq',
  'addScalar', 'mulScalar', 'rsubScalar', 'maximumScalar', 'minimumScalar', 'gtScalar', 'ltScalar', 'eqScalar', 'where']);
const COMPARISONS = new Set(['gt', 'lt', 'ge', 'le', 'eq', 'gtScalar', 'ltScalar', 'eqScalar']);
/** Ops whose result is float32 even for int32 inputs (true division, transcendental functions). */
const FLOAT_RESULT = new Set(['div', 'exp', 'log', 'sqrt', 'sigmoid', 'tanh', 'reciprocal', 'rdivScalar', 'divScalar']);

/** The compute and output dtypes of `op` on operands of `dtypes`, as PyTorch promotes them. */
function typesOf(op: string, dtypes: DType[]): { compute: DType; out: DType } {
  let compute = promote(...dtypes);
  if (compute === 'int32' && FLOAT_RESULT.has(op)) compute = 'float32';
  if (compute === 'int32' && !INT_OPS.has(op)) {
    throw new Error(`${op}: not supported for int32 operands (dtypes ${dtypes.join(', ')}); convert with .float() first`);
  }
  return { compute, out: COMPARISONS.has(op) ? 'int32' : compute };
}
/** Integer formulas that differ by more than their literals (integers have no NaN to propagate). */
const INT_FORMULAS: Record<string, string> = {
  maximum: 'max(x0, x1)', minimum: 'min(x0, x1)', maximumScalar: 'max(x0, p.a)', minimumScalar: 'min(x0, p.a)',
};
/** The formula of `op` in the compute type. */
const formula = (op: string, expr: string, compute: DType) => (compute === 'int32' ? INT_FORMULAS[op] ?? intForm(expr) : expr);
/** Gradient of an input: none for an int32 input (integer tensors are not differentiable). */
const gradFor = (x: Tensor, grad: () => Tensor) => (x.dtype === 'int32' ? null : grad());

type Operand = Tensor | number;

/**
 * WGSL test for NaN on the bits (a float compare may be folded away by a shader compiler): WGSL's
 * max/min may return the other operand for a NaN, PyTorch's maximum/minimum/clamp return NaN.
 */
export const isNanWgsl = (e: string) => `((bitcast<u32>(${e}) & 0x7fffffffu) > 0x7f800000u)`;
/** max/min that return NaN when either operand is NaN, as torch.maximum / clamp_min. */
const nanAware = (f: 'max' | 'min', a: string, b: string) => `select(select(${f}(${a}, ${b}), ${b}, ${isNanWgsl(b)}), ${a}, ${isNanWgsl(a)})`;

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
  const types = typesOf(op, [x.dtype]);
  const out = map([x], formula(op, UNARY[op].f, types.compute), op, 0, 0, undefined, types);
  if (types.out === 'int32') return out;
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

// ---- unary with constants (PyTorch's keyword arguments as the uniforms p.a, p.b) -------------------
/**
 * WGSL for erfc(z), relative error < 1.2e-7 everywhere (Press et al., Numerical Recipes §6.2's
 * Chebyshev fit): WGSL has no erf, and the exact GELU's left tail needs erfc's relative accuracy.
 */
export function erfcExpr(z: string): string {
  const t = `(1.0 / (1.0 + 0.5 * abs(${z})))`;
  const c = [-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277];
  const poly = c.slice(1).reduceRight((acc, k) => `(${k} + ${t} * ${acc})`, '0.0');
  const tail = `${t} * exp(-(${z}) * (${z}) + ${c[0]} + ${t} * ${poly})`;
  return `select(2.0 - ${tail}, ${tail}, (${z}) >= 0.0)`;
}
const SQRT1_2 = '0.7071067811865476';
const INV_SQRT_2PI = '0.3989422804014327';
const geluTanhInner = (x: string) => `tanh(clamp(0.7978845608028654 * (${x} + 0.044715 * ${x} * ${x} * ${x}), -15.0, 15.0))`;
const sigmoidOf = (x: string) => `(1.0 / (1.0 + exp(-${x})))`;

// Each: f of x0 and p.a/p.b; df of g (x0), x (x1), out (x2); params: the attrs (PyTorch's argument
// names) that fill p.a, p.b, recorded on the node for the float64 reference.
export const PARAM_UNARY = {
  // x Φ(x) = x/2 · erfc(−x/√2); PyTorch's gelu(approximate='none').
  gelu: { params: [], f: `0.5 * x0 * ${erfcExpr(`-x0 * ${SQRT1_2}`)}`, df: `x0 * (0.5 * ${erfcExpr(`-x1 * ${SQRT1_2}`)} + x1 * ${INV_SQRT_2PI} * exp(-0.5 * x1 * x1))` },
  geluTanh: {
    params: [],
    f: `0.5 * x0 * (1.0 + ${geluTanhInner('x0')})`,
    df: `x0 * (0.5 * (1.0 + ${geluTanhInner('x1')}) + 0.5 * x1 * (1.0 - ${geluTanhInner('x1')} * ${geluTanhInner('x1')}) * 0.7978845608028654 * (1.0 + 0.134145 * x1 * x1))`,
  },
  silu: { params: [], f: `x0 * ${sigmoidOf('x0')}`, df: `x0 * ${sigmoidOf('x1')} * (1.0 + x1 * (1.0 - ${sigmoidOf('x1')}))` },
  leakyRelu: { params: ['negativeSlope'], f: 'select(x0 * p.a, x0, x0 > 0.0)', df: 'select(x0 * p.a, x0, x1 > 0.0)' },
  elu: { params: ['alpha'], f: 'select(p.a * (exp(x0) - 1.0), x0, x0 > 0.0)', df: 'select(x0 * (x2 + p.a), x0, x1 > 0.0)' },
  // Linear above beta·x > threshold, as PyTorch (also keeps exp from overflowing).
  softplus: {
    params: ['beta', 'threshold'],
    f: 'select(log(1.0 + exp(p.a * x0)) / p.a, x0, p.a * x0 > p.b)',
    df: `select(x0 * ${sigmoidOf('(p.a * x1)')}, x0, p.a * x1 > p.b)`,
  },
  // Gradient passes where min ≤ x ≤ max, bounds included, as PyTorch's clamp.
  clamp: { params: ['min', 'max'], f: `select(min(max(x0, p.a), p.b), x0, ${isNanWgsl('x0')})`, df: 'select(0.0, x0, x1 >= p.a && x1 <= p.b)' },
} as const;
export type ParamUnaryOp = keyof typeof PARAM_UNARY;

export function paramUnary(op: ParamUnaryOp, x: Tensor, attrs: Record<string, number> = {}): Tensor {
  const { params, f, df } = PARAM_UNARY[op];
  const [a, b] = (params as readonly string[]).map((k) => {
    if (typeof attrs[k] !== 'number' || Number.isNaN(attrs[k])) throw new Error(`${op}: ${k} must be a number, got ${attrs[k]}`);
    return attrs[k];
  });
  const out = map([x], f, op, a, b);
  return record(out, op, [x], attrs, (g) => [map([g, x, out], df, `${op}.backward`, a, b)]);
}

/**
 * GELU, x·Φ(x) with Φ the standard normal CDF, as torch.nn.functional.gelu: exact (erf) by
 * default, `approximate: 'tanh'` for 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))).
 *
 * @example gelu(tensor([-1, 0, 1])) // [-0.1587, 0, 0.8413]
 */
export function gelu(x: Tensor, opts: { approximate?: 'none' | 'tanh' } = {}): Tensor {
  const approximate = opts.approximate ?? 'none';
  if (approximate !== 'none' && approximate !== 'tanh') throw new Error(`gelu: approximate must be 'none' or 'tanh', got '${approximate}'`);
  return paramUnary(approximate === 'tanh' ? 'geluTanh' : 'gelu', x);
}
/** Elementwise x·sigmoid(x) (SiLU, swish). @example silu(tensor([0, 1])) // [0, 0.7311] */
export const silu = (x: Tensor) => paramUnary('silu', x);
/** Elementwise x for x > 0, negativeSlope·x otherwise (default 0.01, as PyTorch). @example leakyRelu(tensor([-2, 3]), 0.1) // [-0.2, 3] */
export const leakyRelu = (x: Tensor, negativeSlope = 0.01) => paramUnary('leakyRelu', x, { negativeSlope });
/** Elementwise x for x > 0, alpha·(eˣ − 1) otherwise (default alpha 1). @example elu(tensor([-1, 2])) // [-0.6321, 2] */
export const elu = (x: Tensor, alpha = 1) => paramUnary('elu', x, { alpha });
/**
 * Elementwise log(1 + e^(beta·x)) / beta, and x itself where beta·x > threshold (defaults 1 and
 * 20, as PyTorch).
 *
 * @example softplus(tensor([0, 30])) // [0.6931, 30]
 */
export function softplus(x: Tensor, beta = 1, threshold = 20): Tensor {
  if (beta === 0) throw new Error('softplus: beta must not be 0 (it divides by beta)');
  return paramUnary('softplus', x, { beta, threshold });
}
/**
 * Elementwise min(max(x, min), max); either bound may be omitted (null/undefined), not both. The
 * gradient flows where min ≤ x ≤ max, as torch.clamp.
 *
 * @example clamp(tensor([-2, 0.5, 3]), 0, 1) // [0, 0.5, 1]
 */
export function clamp(x: Tensor, min?: number | null, max?: number | null): Tensor {
  if (min == null && max == null) throw new Error('clamp: at least one of min and max must be given');
  return paramUnary('clamp', x, { min: min ?? -Infinity, max: max ?? Infinity });
}

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
  maximum: { f: nanAware('max', 'x0', 'x1'), da: 'x0 * select(select(0.0, 0.5, x1 == x2), 1.0, x1 > x2)', db: 'x0 * select(select(0.0, 0.5, x1 == x2), 1.0, x2 > x1)' },
  minimum: { f: nanAware('min', 'x0', 'x1'), da: 'x0 * select(select(0.0, 0.5, x1 == x2), 1.0, x1 < x2)', db: 'x0 * select(select(0.0, 0.5, x1 == x2), 1.0, x2 < x1)' },
  gt: { f: 'select(0.0, 1.0, x0 > x1)', da: null, db: null },
  lt: { f: 'select(0.0, 1.0, x0 < x1)', da: null, db: null },
  ge: { f: 'select(0.0, 1.0, x0 >= x1)', da: null, db: null },
  le: { f: 'select(0.0, 1.0, x0 <= x1)', da: null, db: null },
  eq: { f: 'select(0.0, 1.0, x0 == x1)', da: null, db: null },
} as const;
export type BinaryOp = keyof typeof BINARY;

function binaryTensor(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const { f, da, db } = BINARY[op];
  const types = typesOf(op, [a.dtype, b.dtype]);
  const out = map([a, b], formula(op, f, types.compute), op, 0, 0, undefined, types);
  if (da === null || db === null || types.out === 'int32') return out;
  return record(out, op, [a, b], {}, (g) => [
    gradFor(a, () => sumTo(map([g, a, b], da, `${op}.backward`), a.shape)),
    gradFor(b, () => sumTo(map([g, a, b], db, `${op}.backward`), b.shape)),
  ]);
}

// ---- tensor ⊕ scalar ----------------------------------------------------------------------------
// The scalar is a uniform (p.a), so `x.mul(0.5)` costs no upload. Gradient expressions of g (x0), x (x1).
export const SCALAR = {
  addScalar: { f: 'x0 + p.a', df: 'x0' },
  mulScalar: { f: 'x0 * p.a', df: 'x0 * p.a' },
  divScalar: { f: 'x0 / p.a', df: 'x0 / p.a' },
  rsubScalar: { f: 'p.a - x0', df: '-x0' },
  rdivScalar: { f: 'p.a / x0', df: '-x0 * p.a / (x1 * x1)' },
  maximumScalar: { f: nanAware('max', 'x0', 'p.a'), df: 'x0 * select(select(0.0, 0.5, x1 == p.a), 1.0, x1 > p.a)' },
  minimumScalar: { f: nanAware('min', 'x0', 'p.a'), df: 'x0 * select(select(0.0, 0.5, x1 == p.a), 1.0, x1 < p.a)' },
  gtScalar: { f: 'select(0.0, 1.0, x0 > p.a)', df: null },
  ltScalar: { f: 'select(0.0, 1.0, x0 < p.a)', df: null },
  eqScalar: { f: 'select(0.0, 1.0, x0 == p.a)', df: null },
} as const;
export type ScalarOp = keyof typeof SCALAR;

export function scalarOp(op: ScalarOp, x: Tensor, value: number): Tensor {
  const { f, df } = SCALAR[op];
  const types = typesOf(op, [x.dtype, scalarDType(value)]);
  const out = map([x], formula(op, f, types.compute), op, value, 0, undefined, types);
  if (df === null || types.out === 'int32') return out;
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
  typesOf('pow', [x.dtype]);
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
    case 'div': return a.dtype === 'int32' ? scalarOp('divScalar', a, b) : scalarOp('mulScalar', a, 1 / b);
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
/** Elementwise a > b as int32 1/0 (PyTorch: bool; no gradient), broadcasting; b may be a number. @example gt(tensor([1, 5]), 3) // [0, 1] */
export const gt = (a: Tensor, b: Operand) => binary('gt', a, b);
/** Elementwise a < b as int32 1/0 (PyTorch: bool; no gradient), broadcasting; b may be a number. @example lt(tensor([1, 5]), 3) // [1, 0] */
export const lt = (a: Tensor, b: Operand) => binary('lt', a, b);
/** Elementwise a ≥ b as int32 1/0 (PyTorch: bool; no gradient), broadcasting; b may be a number. @example ge(tensor([3, 5]), 5) // [0, 1] */
export const ge = (a: Tensor, b: Operand) => binary('ge', a, b);
/** Elementwise a ≤ b as int32 1/0 (PyTorch: bool; no gradient), broadcasting; b may be a number. @example le(tensor([3, 5]), 3) // [1, 0] */
export const le = (a: Tensor, b: Operand) => binary('le', a, b);
/** Elementwise a == b as int32 1/0 (PyTorch: bool; no gradient), broadcasting; b may be a number. @example eq(argmax(tensor([[1, 9], [8, 2]]), 1), tensor([1, 1])) // [1, 0] */
export const eq = (a: Tensor, b: Operand) => binary('eq', a, b);

/**
 * cond ? a : b elementwise (cond != 0 selects a), broadcasting all three.
 *
 * @example
 * const x = tensor([-2, 3]);
 * where(x.gt(0), x, zerosLike(x)); // [0, 3], like relu
 */
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  const types = typesOf('where', [a.dtype, b.dtype]);
  const out = map([cond, a, b], formula('where', 'select(x2, x1, x0 != 0.0)', types.compute), 'where', 0, 0, undefined, types);
  if (types.out === 'int32') return out;
  return record(out, 'where', [cond, a, b], {}, (g) => [
    null,
    gradFor(a, () => sumTo(map([g, cond], 'select(0.0, x0, x1 != 0.0)', 'where.backward'), a.shape)),
    gradFor(b, () => sumTo(map([g, cond], 'select(x0, 0.0, x1 != 0.0)', 'where.backward'), b.shape)),
  ]);
}

/**
 * x as `dtype` (x itself when it already has it). float32 → int32 truncates toward zero, as
 * PyTorch's `.to(torch.int32)`; the conversion has no gradient.
 *
 * @example
 * toDType(tensor([2.9, -2.9]), 'int32'); // Int32Array [2, -2]
 */
export function toDType(x: Tensor, dtype: DType): Tensor {
  checkDType('to', dtype);
  x.assertAlive('to');
  if (x.dtype === dtype) return x;
  return map([x], 'x0', `to(${dtype})`, 0, 0, undefined, { compute: dtype, out: dtype });
}
