/**
 * Elementwise reference ops: binary ops with NumPy broadcasting, unary ops,
 * tensor-with-scalar variants, and `where`. Comparisons return 1.0 / 0.0.
 */
import { type RefTensor, broadcastShapes, broadcastTo, checkTensor, fmt, refFromFn } from './tensor.ts';

type Unary = (x: number) => number;
type Binary = (a: number, b: number) => number;

/** Applies `f` to every element of `x`. */
export function mapUnary(op: string, x: RefTensor, f: Unary): RefTensor {
  checkTensor(op, x);
  return refFromFn(x.shape, (i) => f(x.data[i]));
}

/** Broadcasts `a` and `b` against each other and applies `f` pairwise. */
export function mapBinary(op: string, a: RefTensor, b: RefTensor, f: Binary): RefTensor {
  checkTensor(op, a, 'first input');
  checkTensor(op, b, 'second input');
  const shape = broadcastShapes(a.shape, b.shape, op);
  const x = broadcastTo(a, shape, op);
  const y = broadcastTo(b, shape, op);
  return refFromFn(shape, (i) => f(x.data[i], y.data[i]));
}

const bool = (c: boolean): number => (c ? 1 : 0);

// ---- binary ----
export const add = (a: RefTensor, b: RefTensor) => mapBinary('add', a, b, (x, y) => x + y);
export const sub = (a: RefTensor, b: RefTensor) => mapBinary('sub', a, b, (x, y) => x - y);
export const mul = (a: RefTensor, b: RefTensor) => mapBinary('mul', a, b, (x, y) => x * y);
export const div = (a: RefTensor, b: RefTensor) => mapBinary('div', a, b, (x, y) => x / y);
export const pow = (a: RefTensor, b: RefTensor) => mapBinary('pow', a, b, Math.pow);
/** NaN-propagating, like torch.maximum. */
export const maximum = (a: RefTensor, b: RefTensor) => mapBinary('maximum', a, b, Math.max);
export const minimum = (a: RefTensor, b: RefTensor) => mapBinary('minimum', a, b, Math.min);
export const gt = (a: RefTensor, b: RefTensor) => mapBinary('gt', a, b, (x, y) => bool(x > y));
export const lt = (a: RefTensor, b: RefTensor) => mapBinary('lt', a, b, (x, y) => bool(x < y));
export const ge = (a: RefTensor, b: RefTensor) => mapBinary('ge', a, b, (x, y) => bool(x >= y));
export const le = (a: RefTensor, b: RefTensor) => mapBinary('le', a, b, (x, y) => bool(x <= y));
export const eq = (a: RefTensor, b: RefTensor) => mapBinary('eq', a, b, (x, y) => bool(x === y));

// ---- unary ----
/** Logistic sigmoid, written so that exp never overflows. */
export function sigmoidScalar(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

export const neg = (x: RefTensor) => mapUnary('neg', x, (v) => -v);
export const exp = (x: RefTensor) => mapUnary('exp', x, Math.exp);
export const log = (x: RefTensor) => mapUnary('log', x, Math.log);
export const sqrt = (x: RefTensor) => mapUnary('sqrt', x, Math.sqrt);
export const abs = (x: RefTensor) => mapUnary('abs', x, Math.abs);
/** max(x, 0); NaN stays NaN, like torch.relu. */
export const relu = (x: RefTensor) => mapUnary('relu', x, (v) => Math.max(v, 0));
export const sigmoid = (x: RefTensor) => mapUnary('sigmoid', x, sigmoidScalar);
export const tanh = (x: RefTensor) => mapUnary('tanh', x, Math.tanh);
export const square = (x: RefTensor) => mapUnary('square', x, (v) => v * v);
export const reciprocal = (x: RefTensor) => mapUnary('reciprocal', x, (v) => 1 / v);

// ---- unary with constants (attrs named as PyTorch's arguments) ----
/**
 * erfc(x) in float64 to ~1e-14 relative: the Maclaurin series of erf for |x| < 2, the Laplace
 * continued fraction of erfc beyond (JavaScript has no Math.erf).
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 2) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 60; n++) {
      term *= (-x * x) / n;
      sum += term / (2 * n + 1);
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  let frac = 0;
  for (let k = 120; k >= 1; k--) frac = k / 2 / (x + frac);
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / (x + frac);
}

function attr(op: string, attrs: object | undefined, key: string): number {
  return scalarAttr(op, attrs, key);
}

/** x·Φ(x) = x/2 · erfc(−x/√2). */
export const gelu = (x: RefTensor) => mapUnary('gelu', x, (v) => 0.5 * v * erfc(-v / Math.SQRT2));
export const geluTanh = (x: RefTensor) =>
  mapUnary('geluTanh', x, (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))));
export const silu = (x: RefTensor) => mapUnary('silu', x, (v) => v * sigmoidScalar(v));
export const leakyRelu = (x: RefTensor, attrs: { negativeSlope: number }) => {
  const s = attr('leakyRelu', attrs, 'negativeSlope');
  return mapUnary('leakyRelu', x, (v) => (v > 0 ? v : s * v));
};
export const elu = (x: RefTensor, attrs: { alpha: number }) => {
  const a = attr('elu', attrs, 'alpha');
  return mapUnary('elu', x, (v) => (v > 0 ? v : a * Math.expm1(v)));
};
export const softplus = (x: RefTensor, attrs: { beta: number; threshold: number }) => {
  const [b, t] = [attr('softplus', attrs, 'beta'), attr('softplus', attrs, 'threshold')];
  return mapUnary('softplus', x, (v) => (b * v > t ? v : Math.log1p(Math.exp(b * v)) / b));
};
export const clamp = (x: RefTensor, attrs: { min: number; max: number }) => {
  const [lo, hi] = [attr('clamp', attrs, 'min'), attr('clamp', attrs, 'max')];
  return mapUnary('clamp', x, (v) => Math.min(Math.max(v, lo), hi));
};

// ---- tensor with scalar ----
export interface ScalarAttrs {
  value: number;
}
export interface PowScalarAttrs {
  exponent: number;
}

function scalarAttr(op: string, attrs: object | undefined, key: string): number {
  const v = (attrs as Record<string, unknown> | undefined)?.[key];
  if (typeof v !== 'number') throw new Error(`${op}: attribute '${key}' must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function scalarOp(op: string, f: Binary) {
  return (x: RefTensor, attrs: ScalarAttrs): RefTensor => {
    const s = scalarAttr(op, attrs, 'value');
    return mapUnary(op, x, (v) => f(v, s));
  };
}

export const addScalar = scalarOp('addScalar', (x, s) => x + s);
export const mulScalar = scalarOp('mulScalar', (x, s) => x * s);
export const divScalar = scalarOp('divScalar', (x, s) => x / s);
/** value − x */
export const rsubScalar = scalarOp('rsubScalar', (x, s) => s - x);
/** value / x */
export const rdivScalar = scalarOp('rdivScalar', (x, s) => s / x);
export const maximumScalar = scalarOp('maximumScalar', Math.max);
export const minimumScalar = scalarOp('minimumScalar', Math.min);
export const gtScalar = scalarOp('gtScalar', (x, s) => bool(x > s));
export const ltScalar = scalarOp('ltScalar', (x, s) => bool(x < s));
export const eqScalar = scalarOp('eqScalar', (x, s) => bool(x === s));

export function powScalar(x: RefTensor, attrs: PowScalarAttrs): RefTensor {
  const e = scalarAttr('powScalar', attrs, 'exponent');
  return mapUnary('powScalar', x, (v) => Math.pow(v, e));
}

// ---- where ----
/** Broadcasts all three; picks `a` where `cond` != 0, else `b`. */
export function where(cond: RefTensor, a: RefTensor, b: RefTensor): RefTensor {
  checkTensor('where', cond, 'cond');
  checkTensor('where', a, 'a');
  checkTensor('where', b, 'b');
  let shape: number[];
  try {
    shape = broadcastShapes(broadcastShapes(cond.shape, a.shape), b.shape);
  } catch {
    throw new Error(`where: shapes ${fmt(cond.shape)}, ${fmt(a.shape)} and ${fmt(b.shape)} cannot broadcast`);
  }
  const [c, x, y] = [cond, a, b].map((t) => broadcastTo(t, shape, 'where'));
  return refFromFn(shape, (i) => (c.data[i] !== 0 ? x.data[i] : y.data[i]));
}
