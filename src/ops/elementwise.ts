// Pointwise ops: one WGSL formula each (map's kernels, src/ops/codegen/elementwise.ts, do the
// indexing and broadcasting), plus backward formulas. Gradients of broadcast inputs are summed
// back to the input's shape (`sumTo`). Backward rules use `map` to fuse their pointwise steps.
//
// Formulas name their operands: x (a unary op's input), a and b (a binary op's), g (the incoming
// gradient), out (the op's result), cond (where's condition); p.a and p.b are the op's constants
// (uniforms). `bind` turns a formula into map's expression of its inputs x0, x1, …; fuse()
// (src/ops/fuse.ts) binds the same formulas to the expressions of a traced chain.

import type { Tensor } from '../tensor.ts';
import { record } from '../autograd/graph.ts';
import { map } from './map.ts';
import { sumTo } from './reduce.ts';
import { checkDType, promote, scalarDType, type DType } from '../dtype.ts';

/** The operand names a formula may use, and the constants p.a, p.b (replaced only where bound). */
const OPERAND = /(?<![\w.])(?:g|x|out|a|b|cond|p\.a|p\.b)(?![\w.])/g;

/**
 * `formula` with each operand replaced by its expression in `args` (by name, e.g.
 * `{ g: 'x0', x: 'x1' }`); the constants p.a, p.b are replaced only when `args` names them. An
 * operand without an expression is a bug in the caller, so it throws.
 */
export function bind(formula: string, args: Readonly<Record<string, string>>): string {
  return formula.replace(OPERAND, (name) => {
    const e = args[name];
    if (e !== undefined) return e;
    if (name.startsWith('p.')) return name;
    throw new Error(`wgrad internal: formula '${formula}' uses '${name}', which is not bound (given: ${Object.keys(args).join(', ')})`);
  });
}
/** `formula` as map's expression of its inputs: the k-th of `names` becomes x<k>. */
const positional = (formula: string, names: readonly string[]) => bind(formula, Object.fromEntries(names.map((n, k) => [n, `x${k}`])));
/** Every formula of a table row bound positionally: key → operand names. */
function bindRows<R extends Record<string, unknown>, K extends string>(
  rows: R,
  names: Record<K, readonly string[]>,
): Record<keyof R, Record<K, string | null>> {
  const bindRow = (row: Record<string, string | null>) =>
    Object.fromEntries(Object.entries<readonly string[]>(names).map(([k, n]) => [k, row[k] === null ? null : positional(row[k], n)]));
  return Object.fromEntries(Object.entries(rows).map(([op, row]) => [op, bindRow(row as Record<string, string | null>)])) as Record<
    keyof R,
    Record<K, string | null>
  >;
}

/**
 * The int32 form of a formula: its float literals made integers (`max(x, 0.0)` → `max(x, 0)`).
 * Only the ops in INT_OPS have one; the others compute in float32 (PyTorch: exp of an integer
 * tensor is float) or refuse int32 (intOnlyError).
 */
const intForm = (expr: string) => expr.replace(/\b(\d+)\.0\b/g, '$1');
const INT_OPS = new Set([
  'neg',
  'abs',
  'relu',
  'square',
  'add',
  'sub',
  'mul',
  'maximum',
  'minimum',
  'gt',
  'lt',
  'ge',
  'le',
  'eq',
  'addScalar',
  'mulScalar',
  'rsubScalar',
  'maximumScalar',
  'minimumScalar',
  'gtScalar',
  'ltScalar',
  'eqScalar',
  'where',
]);
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
  maximum: positional('max(a, b)', ['a', 'b']),
  minimum: positional('min(a, b)', ['a', 'b']),
  maximumScalar: positional('max(x, p.a)', ['x']),
  minimumScalar: positional('min(x, p.a)', ['x']),
};
/** The formula of `op` (bound positionally) in the compute type. */
const formula = (op: string, expr: string, compute: DType) => (compute === 'int32' ? (INT_FORMULAS[op] ?? intForm(expr)) : expr);
/** Gradient of an input: none for an int32 input (integer tensors are not differentiable). */
const gradFor = (x: Tensor, grad: () => Tensor) => (x.dtype === 'int32' ? null : grad());

type Operand = Tensor | number;

/**
 * WGSL test for NaN on the bits (a float compare may be folded away by a shader compiler): WGSL's
 * max/min may return the other operand for a NaN, PyTorch's maximum/minimum/clamp return NaN.
 */
export const isNanWgsl = (e: string) => `((bitcast<u32>(${e}) & 0x7fffffffu) > 0x7f800000u)`;
/** max/min that return NaN when either operand is NaN, as torch.maximum / clamp_min. */
const nanAware = (f: 'max' | 'min', a: string, b: string) =>
  `select(select(${f}(${a}, ${b}), ${b}, ${isNanWgsl(b)}), ${a}, ${isNanWgsl(a)})`;

// ---- unary --------------------------------------------------------------------------------
// Each: f of x, and the gradient df of g, x, out.
// The formula tables (UNARY, BINARY, SCALAR, powScalarFormula) are also what fuse() compiles from.
export const UNARY = {
  neg: { f: '-x', df: '-g' },
  exp: { f: 'exp(x)', df: 'g * out' },
  log: { f: 'log(x)', df: 'g / x' },
  sqrt: { f: 'sqrt(x)', df: 'g * 0.5 / out' },
  abs: { f: 'abs(x)', df: 'g * sign(x)' },
  relu: { f: 'max(x, 0.0)', df: 'select(0.0, g, x > 0.0)' },
  sigmoid: { f: '1.0 / (1.0 + exp(-x))', df: 'g * out * (1.0 - out)' },
  // tanh of large |x| overflows exp() in some drivers' tanh: clamp where tanh is already ±1 in f32.
  tanh: { f: 'tanh(clamp(x, -15.0, 15.0))', df: 'g * (1.0 - out * out)' },
  square: { f: 'x * x', df: '2.0 * g * x' },
  reciprocal: { f: '1.0 / x', df: '-g * out * out' },
} as const;
export type UnaryOp = keyof typeof UNARY;
const UNARY_MAP = bindRows(UNARY, { f: ['x'], df: ['g', 'x', 'out'] });

function unary(op: UnaryOp, x: Tensor): Tensor {
  const types = typesOf(op, [x.dtype]);
  const { f, df } = UNARY_MAP[op];
  const out = map([x], formula(op, f!, types.compute), op, 0, 0, undefined, types);
  if (types.out === 'int32') return out;
  return record(out, op, [x], {}, (g) => [map([g, x, out], df!, `${op}.backward`)]);
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

// Each: f of x and p.a/p.b; df of g, x, out; params: the attrs (PyTorch's argument names) that
// fill p.a, p.b, recorded on the node for the float64 reference.
export const PARAM_UNARY = {
  // x Φ(x) = x/2 · erfc(−x/√2); PyTorch's gelu(approximate='none').
  gelu: {
    params: [],
    f: `0.5 * x * ${erfcExpr(`-x * ${SQRT1_2}`)}`,
    df: `g * (0.5 * ${erfcExpr(`-x * ${SQRT1_2}`)} + x * ${INV_SQRT_2PI} * exp(-0.5 * x * x))`,
  },
  geluTanh: {
    params: [],
    f: `0.5 * x * (1.0 + ${geluTanhInner('x')})`,
    df: `g * (0.5 * (1.0 + ${geluTanhInner('x')}) + 0.5 * x * (1.0 - ${geluTanhInner('x')} * ${geluTanhInner('x')}) * 0.7978845608028654 * (1.0 + 0.134145 * x * x))`,
  },
  silu: { params: [], f: `x * ${sigmoidOf('x')}`, df: `g * ${sigmoidOf('x')} * (1.0 + x * (1.0 - ${sigmoidOf('x')}))` },
  leakyRelu: { params: ['negativeSlope'], f: 'select(x * p.a, x, x > 0.0)', df: 'select(g * p.a, g, x > 0.0)' },
  elu: { params: ['alpha'], f: 'select(p.a * (exp(x) - 1.0), x, x > 0.0)', df: 'select(g * (out + p.a), g, x > 0.0)' },
  // Linear above beta·x > threshold, as PyTorch (also keeps exp from overflowing).
  softplus: {
    params: ['beta', 'threshold'],
    f: 'select(log(1.0 + exp(p.a * x)) / p.a, x, p.a * x > p.b)',
    df: `select(g * ${sigmoidOf('(p.a * x)')}, g, p.a * x > p.b)`,
  },
  // Gradient passes where min ≤ x ≤ max, bounds included, as PyTorch's clamp.
  clamp: { params: ['min', 'max'], f: `select(min(max(x, p.a), p.b), x, ${isNanWgsl('x')})`, df: 'select(0.0, g, x >= p.a && x <= p.b)' },
} as const;
export type ParamUnaryOp = keyof typeof PARAM_UNARY;
const PARAM_UNARY_MAP = bindRows(PARAM_UNARY, { f: ['x'], df: ['g', 'x', 'out'] });

export function paramUnary(op: ParamUnaryOp, x: Tensor, attrs: Record<string, number> = {}): Tensor {
  const { params } = PARAM_UNARY[op];
  const { f, df } = PARAM_UNARY_MAP[op];
  const [a, b] = (params as readonly string[]).map((k) => {
    if (typeof attrs[k] !== 'number' || Number.isNaN(attrs[k])) throw new Error(`${op}: ${k} must be a number, got ${attrs[k]}`);
    return attrs[k];
  });
  const out = map([x], f!, op, a, b);
  return record(out, op, [x], attrs, (g) => [map([g, x, out], df!, `${op}.backward`, a, b)]);
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

// Each: f of a, b; the gradients da, db of g, a, b (null: not differentiable).
export const BINARY = {
  add: { f: 'a + b', da: 'g', db: 'g' },
  sub: { f: 'a - b', da: 'g', db: '-g' },
  mul: { f: 'a * b', da: 'g * b', db: 'g * a' },
  div: { f: 'a / b', da: 'g / b', db: '-g * a / (b * b)' },
  // d/da is 0 where b = 0, d/db is 0 where a = 0 and b >= 0 (as torch, instead of 0·inf).
  pow: {
    f: powTensorExpr('a', 'b'),
    da: `select(g * b * ${powTensorExpr('a', 'b - 1.0')}, 0.0, b == 0.0)`,
    db: `select(g * ${powTensorExpr('a', 'b')} * log(a), 0.0, a == 0.0 && b >= 0.0)`,
  },
  // Ties split the gradient evenly, as PyTorch does.
  maximum: {
    f: nanAware('max', 'a', 'b'),
    da: 'g * select(select(0.0, 0.5, a == b), 1.0, a > b)',
    db: 'g * select(select(0.0, 0.5, a == b), 1.0, b > a)',
  },
  minimum: {
    f: nanAware('min', 'a', 'b'),
    da: 'g * select(select(0.0, 0.5, a == b), 1.0, a < b)',
    db: 'g * select(select(0.0, 0.5, a == b), 1.0, b < a)',
  },
  gt: { f: 'select(0.0, 1.0, a > b)', da: null, db: null },
  lt: { f: 'select(0.0, 1.0, a < b)', da: null, db: null },
  ge: { f: 'select(0.0, 1.0, a >= b)', da: null, db: null },
  le: { f: 'select(0.0, 1.0, a <= b)', da: null, db: null },
  eq: { f: 'select(0.0, 1.0, a == b)', da: null, db: null },
} as const;
export type BinaryOp = keyof typeof BINARY;
const BINARY_MAP = bindRows(BINARY, { f: ['a', 'b'], da: ['g', 'a', 'b'], db: ['g', 'a', 'b'] });

function binaryTensor(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const { f, da, db } = BINARY_MAP[op];
  const types = typesOf(op, [a.dtype, b.dtype]);
  const out = map([a, b], formula(op, f!, types.compute), op, 0, 0, undefined, types);
  if (da === null || db === null || types.out === 'int32') return out;
  return record(out, op, [a, b], {}, (g) => [
    gradFor(a, () => sumTo(map([g, a, b], da, `${op}.backward`), a.shape)),
    gradFor(b, () => sumTo(map([g, a, b], db, `${op}.backward`), b.shape)),
  ]);
}

// ---- tensor ⊕ scalar ----------------------------------------------------------------------------
// The scalar is a uniform (p.a), so `x.mul(0.5)` costs no upload. Each: f of x, p.a; df of g, x, p.a.
export const SCALAR = {
  addScalar: { f: 'x + p.a', df: 'g' },
  mulScalar: { f: 'x * p.a', df: 'g * p.a' },
  divScalar: { f: 'x / p.a', df: 'g / p.a' },
  rsubScalar: { f: 'p.a - x', df: '-g' },
  rdivScalar: { f: 'p.a / x', df: '-g * p.a / (x * x)' },
  maximumScalar: { f: nanAware('max', 'x', 'p.a'), df: 'g * select(select(0.0, 0.5, x == p.a), 1.0, x > p.a)' },
  minimumScalar: { f: nanAware('min', 'x', 'p.a'), df: 'g * select(select(0.0, 0.5, x == p.a), 1.0, x < p.a)' },
  gtScalar: { f: 'select(0.0, 1.0, x > p.a)', df: null },
  ltScalar: { f: 'select(0.0, 1.0, x < p.a)', df: null },
  eqScalar: { f: 'select(0.0, 1.0, x == p.a)', df: null },
} as const;
export type ScalarOp = keyof typeof SCALAR;
const SCALAR_MAP = bindRows(SCALAR, { f: ['x'], df: ['g', 'x'] });

export function scalarOp(op: ScalarOp, x: Tensor, value: number): Tensor {
  const { f, df } = SCALAR_MAP[op];
  const types = typesOf(op, [x.dtype, scalarDType(value)]);
  const out = map([x], formula(op, f!, types.compute), op, value, 0, undefined, types);
  if (df === null || types.out === 'int32') return out;
  return record(out, op, [x], { value }, (g) => [map([g, x], df, `${op}.backward`, value)]);
}

/** WGSL for x^e with e a uniform; integer exponents work for negative x (WGSL's pow does not). */
function powExpr(x: string, e: string, exponent: number): string {
  if (!Number.isInteger(exponent)) return `pow(${x}, ${e})`;
  if (exponent === 0) return '1.0';
  const sign = exponent % 2 === 0 ? '1.0' : '-1.0';
  return `select(1.0, ${sign}, ${x} < 0.0) * pow(abs(${x}), ${e})`;
}

/**
 * The formulas of x^e for a constant exponent e (powScalar): f of x, df of g, x, with e in p.a and
 * e − 1 in p.b. e = 2 is x · x.
 */
export function powScalarFormula(e: number): { f: string; df: string } {
  if (e === 2) return { f: 'x * x', df: '2.0 * g * x' };
  return { f: powExpr('x', 'p.a', e), df: `g * p.a * ${powExpr('x', 'p.b', e - 1)}` };
}

/** x^e for a constant exponent e. */
export function powScalar(x: Tensor, exponent: number): Tensor {
  typesOf('pow', [x.dtype]);
  const { f, df } = powScalarFormula(exponent);
  const out = map([x], positional(f, ['x']), 'powScalar', exponent, exponent - 1);
  return record(out, 'powScalar', [x], { exponent }, (g) => [
    map([g, x], positional(df, ['g', 'x']), 'powScalar.backward', exponent, exponent - 1),
  ]);
}

/**
 * A binary op with a number operand, as the scalar ops eager wgrad runs and records (and fuse()
 * traces): [op, its scalar] per step. `int`: the tensor is int32 (a / 5 stays a true division).
 */
export const WITH_NUMBER: { readonly [K in BinaryOp]: (v: number, int: boolean) => readonly [ScalarOp | 'powScalar', number][] } = {
  add: (v) => [['addScalar', v]],
  sub: (v) => [['addScalar', -v]],
  mul: (v) => [['mulScalar', v]],
  div: (v, int) => (int ? [['divScalar', v]] : [['mulScalar', 1 / v]]),
  pow: (v) => [['powScalar', v]],
  maximum: (v) => [['maximumScalar', v]],
  minimum: (v) => [['minimumScalar', v]],
  gt: (v) => [['gtScalar', v]],
  lt: (v) => [['ltScalar', v]],
  eq: (v) => [['eqScalar', v]],
  ge: (v) => [
    ['ltScalar', v],
    ['rsubScalar', 1],
  ],
  le: (v) => [
    ['gtScalar', v],
    ['rsubScalar', 1],
  ],
};

function binary(op: BinaryOp, a: Tensor, b: Operand): Tensor {
  if (typeof b !== 'number') return binaryTensor(op, a, b);
  let out = a;
  for (const [k, [step, value]] of WITH_NUMBER[op](b, a.dtype === 'int32').entries()) {
    const next = step === 'powScalar' ? powScalar(out, value) : scalarOp(step, out, value);
    // Only the negated comparisons take two steps: their first result is an unrecorded 0/1 mask.
    if (k > 0) out.dispose();
    out = next;
  }
  return out;
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

/** where's formulas: f of cond, a, b; da, db of g, cond. */
const WHERE = {
  f: positional('select(b, a, cond != 0.0)', ['cond', 'a', 'b']),
  da: positional('select(0.0, g, cond != 0.0)', ['g', 'cond']),
  db: positional('select(g, 0.0, cond != 0.0)', ['g', 'cond']),
};

/**
 * cond ? a : b elementwise (cond != 0 selects a), broadcasting all three.
 *
 * @example
 * const x = tensor([-2, 3]);
 * where(x.gt(0), x, zerosLike(x)); // [0, 3], like relu
 */
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  const types = typesOf('where', [a.dtype, b.dtype]);
  const out = map([cond, a, b], formula('where', WHERE.f, types.compute), 'where', 0, 0, undefined, types);
  if (types.out === 'int32') return out;
  return record(out, 'where', [cond, a, b], {}, (g) => [
    null,
    gradFor(a, () => sumTo(map([g, cond], WHERE.da, 'where.backward'), a.shape)),
    gradFor(b, () => sumTo(map([g, cond], WHERE.db, 'where.backward'), b.shape)),
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
