// fuse(fn): runs a chain of elementwise ops as ONE kernel. On the first call per input-shape
// signature, fn is traced with symbolic stand-ins (Sym) that record each elementwise method call
// as a step; the steps become one WGSL expression of x0, x1, … run by `map` (broadcasting, strides
// and the vec4 fast path come from map). With gradients on, the call records ONE autograd node
// 'fused' whose attrs carry the steps (the float64 reference replays them, src/reference/fused.ts)
// and whose backward evaluates g · ∂out/∂x_i, derived by reverse mode over the steps, as one more
// fused expression per input. map's EXPR is a single expression (no `let` statements), so shared
// subexpressions are inlined; programs whose expressions grow past MAX_EXPR_CHARS are refused.

import { Tensor } from '../tensor.ts';
import { needsGrad, record } from '../autograd/graph.ts';
import { broadcastShapes, fmt, type Shape } from '../shape.ts';
import { map, mapInto } from './map.ts';
import { MAP_MAX_INPUTS } from './codegen/elementwise.ts';
import { BINARY, SCALAR, UNARY, WITH_NUMBER, bind, powScalarFormula, type BinaryOp, type ScalarOp, type UnaryOp } from './elementwise.ts';
import { sumTo } from './reduce.ts';

/**
 * One traced step: `op` names an elementwise op (its float64 reference replays it by that name),
 * `args` index into the value list (the n inputs first, then the result of each earlier step),
 * `value`/`exponent` are the scalar of the scalar ops (addScalar, powScalar, ...).
 */
export interface FusedStep {
  op: string;
  args: number[];
  value?: number;
  exponent?: number;
}

/** attrs of a 'fused' node: the steps; the output is the last step's value. */
export interface FusedAttrs {
  steps: FusedStep[];
}

/** A bound on each generated WGSL expression (inlined common subexpressions can grow fast). */
const MAX_EXPR_CHARS = 50_000;

/** The Tensor methods a traced fn may call: every op of the UNARY and BINARY tables. */
const UNARY_METHODS = Object.keys(UNARY) as UnaryOp[];
const BINARY_METHODS = Object.keys(BINARY) as BinaryOp[];
const METHODS = [...BINARY_METHODS, ...UNARY_METHODS].join(', ');

/** A WGSL f32 constant of v rounded to f32 (the value a uniform would hold): valid for -0, integers, tiny and huge values. */
export function wgslFloat(v: number): string {
  const f = Math.fround(v);
  if (!Number.isFinite(f))
    throw new Error(`fuse: the constant ${v} is not a finite f32 (WGSL has no literal for it); pass it as an input tensor`);
  let s = String(Math.abs(f)); // shortest round-trip decimal of the f32 value, e.g. 0.10000000149011612, 1e-7, 1e+21
  if (!/[.e]/.test(s)) s += '.0';
  // A constant -0.0 is folded away by shader compilers (x * -0.0 gave +0 on lavapipe); every
  // fused dispatch passes p.b = 0, so -p.b is a -0 the compiler cannot see.
  if (Object.is(f, -0)) return '(-p.b)';
  return f < 0 ? `(-${s})` : s;
}

// ---- tracing ------------------------------------------------------------------------------------

class Trace {
  readonly steps: FusedStep[] = [];
  constructor(readonly nInputs: number) {}
  push(step: FusedStep, shape: Shape): Sym {
    this.steps.push(step);
    return symbol(this, this.nInputs + this.steps.length - 1, shape);
  }
}

/** The stand-in a traced fn receives: records each elementwise method (UNARY_METHODS, BINARY_METHODS) as a step. */
class Sym {
  constructor(
    readonly trace: Trace,
    readonly index: number,
    readonly shape: Shape,
  ) {}

  static {
    const methods = Sym.prototype as unknown as Record<string, unknown>;
    for (const op of UNARY_METHODS)
      methods[op] = function (this: Sym) {
        return this.un(op);
      };
    for (const op of BINARY_METHODS)
      methods[op] = function (this: Sym, o: unknown) {
        return this.bin(op, o);
      };
  }

  private other(method: string, o: unknown): Sym | number {
    if (typeof o === 'number') return o;
    if (o instanceof Sym) {
      if (o.trace !== this.trace) throw new Error(`fuse: ${method}() got a value traced by another fuse() call`);
      return o;
    }
    if (o instanceof Tensor)
      throw new Error(
        `fuse: ${method}() got a tensor that is not an argument of the fused function; pass every tensor as an argument of f`,
      );
    throw new Error(`fuse: ${method}() takes a tensor or a number, got ${typeof o}`);
  }
  private un(op: string): Sym {
    return this.trace.push({ op, args: [this.index] }, this.shape);
  }
  private sc(op: string, value: number): Sym {
    return this.trace.push(
      op === 'powScalar' ? { op, args: [this.index], exponent: value } : { op, args: [this.index], value },
      this.shape,
    );
  }
  /** Mirrors the eager binary(): numbers become the scalar ops eager wgrad records (WITH_NUMBER). */
  private bin(op: BinaryOp, o: unknown): Sym {
    const b = this.other(op, o);
    if (typeof b === 'number') return WITH_NUMBER[op](b, false).reduce<Sym>((s, [step, value]) => s.sc(step, value), this);
    if (op === 'pow') throw new Error('fuse: pow() with a tensor exponent is not supported; use a number exponent');
    return this.trace.push({ op, args: [this.index, b.index] }, broadcastShapes(`fuse: ${op}`, this.shape, b.shape));
  }
  get ndim(): number {
    return this.shape.length;
  }
}

/** A Sym behind a Proxy, so that any other Tensor member used in fn fails with its name. */
function symbol(trace: Trace, index: number, shape: Shape): Sym {
  return new Proxy(new Sym(trace, index, shape), {
    get(target, prop, receiver) {
      if (typeof prop === 'symbol' || prop in target) return Reflect.get(target, prop, receiver);
      if (prop === 'then' || prop === 'toJSON') return undefined;
      throw new Error(
        `fuse: fn used '${prop}', which fuse() cannot fuse: only elementwise methods are supported (${METHODS}), called as methods (x.relu(), not relu(x))`,
      );
    },
  });
}

// ---- WGSL generation ----------------------------------------------------------------------------
// Every formula is the eager op's (elementwise.ts's tables), with its placeholders filled in.

/**
 * An eager formula with its operands replaced by `args` and the uniforms p.a, p.b by `a`, `b` (the
 * step's constants as literals), in parentheses. The substituted expressions are atomic (names,
 * literals, calls or parenthesised), so they need no parentheses of their own.
 */
function fill(formula: string, args: Record<string, string>, a = '', b = ''): string {
  return `(${bind(formula, { ...args, 'p.a': a, 'p.b': b })})`;
}

const isUnary = (op: string): op is UnaryOp => op in UNARY;
const isBinary = (op: string): op is BinaryOp => op in BINARY;
const isScalar = (op: string): op is ScalarOp => op in SCALAR;

/** The value of one step as WGSL of its arguments' expressions x (or a, b). */
function forwardOf(s: FusedStep, x: string, y: string): string {
  const c = s.value === undefined ? '' : wgslFloat(s.value);
  if (isUnary(s.op)) return fill(UNARY[s.op].f, { x });
  if (isBinary(s.op)) return fill(BINARY[s.op].f, { a: x, b: y });
  if (isScalar(s.op)) return fill(SCALAR[s.op].f, { x }, c);
  if (s.op === 'powScalar') return fill(powScalarFormula(s.exponent!).f, { x }, wgslFloat(s.exponent!));
  throw new Error(`wgrad internal: fuse has no WGSL for '${s.op}'`);
}

/**
 * The adjoint contributions of one step to its arguments, given its adjoint g, its arguments x
 * (or a, b) and its value out (null: not differentiable, as the comparisons).
 */
function backwardOf(s: FusedStep, g: string, x: string, y: string, out: string): (string | null)[] {
  const c = s.value === undefined ? '' : wgslFloat(s.value);
  if (isUnary(s.op)) return [fill(UNARY[s.op].df, { g, x, out })];
  if (isBinary(s.op)) {
    const { da, db } = BINARY[s.op];
    return [da === null ? null : fill(da, { g, a: x, b: y }), db === null ? null : fill(db, { g, a: x, b: y })];
  }
  if (isScalar(s.op)) {
    const df = SCALAR[s.op].df;
    return [df === null ? null : fill(df, { g, x }, c)];
  }
  if (s.op === 'powScalar') {
    const e = s.exponent!;
    return [fill(powScalarFormula(e).df, { g, x }, wgslFloat(e), wgslFloat(e - 1))];
  }
  throw new Error(`wgrad internal: fuse has no gradient for '${s.op}'`);
}

function checkLength(expr: string, what: string): string {
  if (expr.length > MAX_EXPR_CHARS) {
    throw new Error(
      `fuse: the ${what} expression has ${expr.length} characters (limit ${MAX_EXPR_CHARS}): values reused many times are inlined; split fn into smaller fuse() calls`,
    );
  }
  return expr;
}

/** A traced program compiled for one input-shape signature. */
interface Program {
  steps: FusedStep[];
  /** Inputs the output depends on, in argument order; map sees them as x0, x1, ... */
  used: number[];
  shape: Shape;
  /** WGSL value of every input and step (inputs renamed to x<position in used>). */
  values: string[];
  forward: string;
  /** Per argument: WGSL of ∂out/∂x_i times the seed, or null (no path); computed on first backward. */
  grads?: { seed: string; exprs: (string | null)[] };
}

function compile(fn: (...xs: Tensor[]) => Tensor, shapes: Shape[]): Program {
  const trace = new Trace(shapes.length);
  const syms = shapes.map((s, k) => symbol(trace, k, s));
  const result = (fn as unknown as (...xs: Sym[]) => unknown)(...syms) as unknown;
  if (!(result instanceof Sym) || result.trace !== trace)
    throw new Error('fuse: fn must return a tensor computed from its arguments by elementwise methods');
  if (result.index < shapes.length) throw new Error('fuse: fn returned one of its arguments unchanged; there is nothing to fuse');
  const steps = trace.steps.slice(0, result.index - shapes.length + 1);
  // Which values the output reaches: those inputs are bound, in argument order.
  const live = new Array(shapes.length + steps.length).fill(false);
  live[result.index] = true;
  for (let s = steps.length - 1; s >= 0; s--) if (live[shapes.length + s]) for (const k of steps[s].args) live[k] = true;
  const used = shapes.map((_, k) => k).filter((k) => live[k]);
  const values: string[] = shapes.map((_, k) => `x${used.indexOf(k)}`);
  for (const s of steps) values.push(forwardOf(s, values[s.args[0]], values[s.args[1]]));
  return { steps, used, shape: result.shape, values, forward: checkLength(values[result.index], 'forward') };
}

/** Reverse mode over the steps: the adjoint of every input as WGSL, seeded with `seed` at the output. */
function derive(p: Program, seed: string): (string | null)[] {
  const n = p.values.length - p.steps.length;
  const terms: string[][] = p.values.map(() => []);
  terms[p.values.length - 1].push(seed);
  const total = (t: string[]) => (t.length === 1 ? t[0] : `(${t.join(' + ')})`);
  for (let s = p.steps.length - 1; s >= 0; s--) {
    const t = terms[n + s];
    if (t.length === 0) continue;
    const step = p.steps[s];
    const A = total(t);
    if (A.length > MAX_EXPR_CHARS) checkLength(A, 'gradient');
    const contrib = backwardOf(step, A, p.values[step.args[0]], p.values[step.args[1]], p.values[n + s]);
    step.args.forEach((k, j) => {
      if (contrib[j]) terms[k].push(contrib[j]!);
    });
  }
  return terms.slice(0, n).map((t) => (t.length ? checkLength(total(t), 'gradient') : null));
}

/**
 * Fuses a chain of elementwise ops into one kernel: `fuse(fn)` returns a function of tensors
 * that computes fn(...xs) with ONE dispatch instead of one per op (and, when an input requires a
 * gradient, one dispatch per input gradient in backward). fn is traced once per input-shape
 * signature with stand-ins that support the elementwise Tensor methods, called as methods: add,
 * sub, mul, div, maximum, minimum, gt, lt, ge, le, eq (tensor or number operand), pow (number
 * exponent), neg, exp, log, sqrt, abs, relu, sigmoid, tanh, square, reciprocal. Inputs broadcast
 * as in the eager ops, and the results equal the eager chain's (same formulas, up to f32
 * rounding). Anything else in fn (sum, matmul, reshape, a tensor captured from outside) throws
 * an error naming it. At most 7 tensors read by fn (the elementwise kernel's operand slots, and
 * at most the adapter's maxStorageBuffersPerShaderStage − 1; with more than 3, the broadcast
 * shapes must merge to rank ≤ 4). Numbers in fn are baked into the
 * kernel as f32 literals, so a value that changes between calls compiles a new kernel each time:
 * pass such values as tensors.
 *
 * @example
 * const f = fuse((x, y) => x.mul(y).add(1).relu().sqrt());
 * const x = tensor([1, 2, 3], undefined, { requiresGrad: true });
 * const y = f(x, tensor([3, 4, -5])); // [2, 3, 0] in one dispatch
 * y.sum().backward(); // x.grad: one fused backward dispatch
 */
export function fuse(fn: (...xs: Tensor[]) => Tensor): (...xs: Tensor[]) => Tensor {
  const cache = new Map<string, Program>();
  return (...xs: Tensor[]): Tensor => {
    if (xs.length === 0) throw new Error('fuse: the fused function needs at least one tensor argument');
    xs.forEach((x, k) => {
      if (!(x instanceof Tensor)) throw new Error(`fuse: argument ${k} is a ${typeof x}, not a Tensor; pass numbers inside fn`);
      x.assertAlive('fuse');
    });
    const maxBuffers = xs[0].device.info.limits.maxStorageBuffersPerShaderStage;
    const limit = Math.min(MAP_MAX_INPUTS, maxBuffers - 1);
    const key = xs.map((x) => fmt(x.shape)).join(';');
    let p = cache.get(key);
    if (!p) {
      p = compile(
        fn,
        xs.map((x) => x.shape),
      );
      cache.set(key, p);
    }
    if (p.used.length > limit) {
      throw new Error(
        `fuse: fn reads ${p.used.length} tensors, but one fused kernel takes at most ${limit} (the elementwise kernel binds ${MAP_MAX_INPUTS}; the adapter allows ${maxBuffers} storage buffers per stage, one is the output)`,
      );
    }
    const prog = p;
    const inputs = prog.used.map((k) => xs[k]);
    const out = map(inputs, prog.forward, 'fused', 0, 0, prog.shape);
    return record(out, 'fused', xs, { steps: prog.steps }, (g) => {
      // g rides along as one more input when it fits; otherwise the gradient is ∂out/∂x_i
      // (seed 1) times g in a second, in-place dispatch.
      const withG = inputs.length < MAP_MAX_INPUTS && inputs.length + 2 <= maxBuffers;
      prog.grads ??= { seed: withG ? `x${inputs.length}` : '1.0', exprs: derive(prog, withG ? `x${inputs.length}` : '1.0') };
      return xs.map((x, k) => {
        const expr = prog.grads!.exprs[k];
        if (expr === null || !needsGrad(x)) return null;
        let gx: Tensor;
        if (withG) gx = map([...inputs, g], expr, 'fused.backward', 0, 0, prog.shape);
        else {
          gx = map(inputs, expr, 'fused.backward', 0, 0, prog.shape);
          mapInto(gx, [g, gx], 'x0 * x1', 'fused.backward');
        }
        return sumTo(gx, x.shape);
      });
    });
  };
}
