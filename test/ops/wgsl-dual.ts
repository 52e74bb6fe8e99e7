// Evaluates the WGSL expressions of the elementwise formula tables in float64 JavaScript, on dual
// numbers (value, derivative): forward-mode differentiation of a forward formula gives its exact
// derivative, with no finite differences, to hold each backward formula against. Covers the WGSL
// subset the tables use; an unknown function or token throws, so a new table row that needs more
// is noticed rather than skipped.

export interface Dual {
  v: number;
  d: number;
}
type Value = Dual | boolean;
export type Env = Record<string, Dual>;
type Node = (env: Env) => Value;

const num = (v: number, d = 0): Dual => ({ v, d });
const dual = (x: Value, what: string): Dual => {
  if (typeof x === 'boolean') throw new Error(`wgsl-dual: ${what} expects a number, got a boolean`);
  return x;
};
const bool = (x: Value, what: string): boolean => {
  if (typeof x !== 'boolean') throw new Error(`wgsl-dual: ${what} expects a boolean, got a number`);
  return x;
};

function powDual(a: Dual, b: Dual): Dual {
  const v = Math.pow(a.v, b.v);
  const da = a.d === 0 ? 0 : b.v * Math.pow(a.v, b.v - 1) * a.d;
  const db = b.d === 0 ? 0 : v * Math.log(a.v) * b.d;
  return num(v, da + db);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

const FUNCTIONS: Record<string, (args: Value[]) => Value> = {
  exp: ([x]) => {
    const a = dual(x, 'exp');
    const e = Math.exp(a.v);
    return num(e, e * a.d);
  },
  log: ([x]) => {
    const a = dual(x, 'log');
    return num(Math.log(a.v), a.d / a.v);
  },
  sqrt: ([x]) => {
    const a = dual(x, 'sqrt');
    const s = Math.sqrt(a.v);
    return num(s, a.d / (2 * s));
  },
  abs: ([x]) => {
    const a = dual(x, 'abs');
    return num(Math.abs(a.v), Math.sign(a.v) * a.d);
  },
  sign: ([x]) => num(Math.sign(dual(x, 'sign').v)),
  round: ([x]) => {
    const v = dual(x, 'round').v;
    const r = Math.round(v);
    return num(Math.abs(v % 1) === 0.5 ? 2 * Math.round(v / 2) : r);
  },
  floor: ([x]) => num(Math.floor(dual(x, 'floor').v)),
  tanh: ([x]) => {
    const a = dual(x, 'tanh');
    const t = Math.tanh(a.v);
    return num(t, (1 - t * t) * a.d);
  },
  pow: ([x, y]) => powDual(dual(x, 'pow'), dual(y, 'pow')),
  max: ([x, y]) => {
    const a = dual(x, 'max');
    const b = dual(y, 'max');
    return a.v >= b.v ? a : b;
  },
  min: ([x, y]) => {
    const a = dual(x, 'min');
    const b = dual(y, 'min');
    return a.v <= b.v ? a : b;
  },
  clamp: ([x, lo, hi]) => FUNCTIONS.min([FUNCTIONS.max([x, lo]), hi]),
  // The bit pattern of the float32 value (the tables test for NaN with it); no derivative.
  'bitcast<u32>': ([x]) => {
    f32[0] = dual(x, 'bitcast').v;
    return num(u32[0]);
  },
  // WGSL's select(f, t, cond) is cond ? t : f.
  select: ([f, t, c]) => (bool(c, 'select') ? t : f),
};

const BINARY_OPS: Record<string, [number, (a: Value, b: Value) => Value]> = {
  '||': [1, (a, b) => bool(a, '||') || bool(b, '||')],
  '&&': [2, (a, b) => bool(a, '&&') && bool(b, '&&')],
  '&': [3, (a, b) => num((dual(a, '&').v & dual(b, '&').v) >>> 0)],
  '|': [3, (a, b) => num((dual(a, '|').v | dual(b, '|').v) >>> 0)],
  '==': [4, (a, b) => dual(a, '==').v === dual(b, '==').v],
  '!=': [4, (a, b) => dual(a, '!=').v !== dual(b, '!=').v],
  '<': [4, (a, b) => dual(a, '<').v < dual(b, '<').v],
  '>': [4, (a, b) => dual(a, '>').v > dual(b, '>').v],
  '<=': [4, (a, b) => dual(a, '<=').v <= dual(b, '<=').v],
  '>=': [4, (a, b) => dual(a, '>=').v >= dual(b, '>=').v],
  '+': [
    5,
    (a, b) => {
      const x = dual(a, '+');
      const y = dual(b, '+');
      return num(x.v + y.v, x.d + y.d);
    },
  ],
  '-': [
    5,
    (a, b) => {
      const x = dual(a, '-');
      const y = dual(b, '-');
      return num(x.v - y.v, x.d - y.d);
    },
  ],
  '*': [
    6,
    (a, b) => {
      const x = dual(a, '*');
      const y = dual(b, '*');
      return num(x.v * y.v, x.d * y.v + x.v * y.d);
    },
  ],
  '/': [
    6,
    (a, b) => {
      const x = dual(a, '/');
      const y = dual(b, '/');
      return num(x.v / y.v, (x.d * y.v - x.v * y.d) / (y.v * y.v));
    },
  ],
  // WGSL's float % truncates like JavaScript's; the tables use it only on exponents (no derivative).
  '%': [6, (a, b) => num(dual(a, '%').v % dual(b, '%').v)],
};

const TOKEN =
  /\s*(0x[0-9a-fA-F]+u?|\d+\.\d*(?:e[+-]?\d+)?|\d+(?:e[+-]?\d+)?[ui]?|bitcast<u32>|[A-Za-z_][\w.]*|\|\||&&|==|!=|<=|>=|[-+*/%<>(),!&|])/y;

function tokenize(src: string): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < src.length) {
    const start = TOKEN.lastIndex;
    const m = TOKEN.exec(src);
    if (!m) {
      if (/^\s*$/.test(src.slice(start))) break;
      throw new Error(`wgsl-dual: cannot read '${src.slice(start, start + 20)}' in ${src}`);
    }
    tokens.push(m[1]);
  }
  return tokens;
}

/** Compiles a WGSL expression of x0..x3 and p.a/p.b into a dual-number evaluator. */
export function compile(src: string): (env: Env) => Value {
  const tokens = tokenize(src);
  let i = 0;
  const peek = () => tokens[i];
  const expect = (t: string) => {
    if (tokens[i] !== t) throw new Error(`wgsl-dual: expected '${t}' at token ${i} ('${tokens[i]}') of ${src}`);
    i++;
  };
  const primary = (): Node => {
    const t = tokens[i++];
    if (t === undefined) throw new Error(`wgsl-dual: unexpected end of ${src}`);
    if (t === '(') {
      const e = expr(0);
      expect(')');
      return e;
    }
    if (t === '-') {
      const e = unaryExpr();
      return (env) => {
        const a = dual(e(env), 'neg');
        return num(-a.v, -a.d);
      };
    }
    if (t === '!') {
      const e = unaryExpr();
      return (env) => !bool(e(env), '!');
    }
    if (/^\d/.test(t)) {
      const v = Number(t.replace(/[ui]$/, ''));
      return () => num(v);
    }
    if (peek() === '(') {
      const f = FUNCTIONS[t];
      if (!f) throw new Error(`wgsl-dual: unknown function '${t}' in ${src}; add it to FUNCTIONS in test/ops/wgsl-dual.ts`);
      i++;
      const args: Node[] = [];
      if (peek() !== ')')
        for (;;) {
          args.push(expr(0));
          if (peek() === ',') i++;
          else break;
        }
      expect(')');
      return (env) => f(args.map((a) => a(env)));
    }
    if (t === 'true' || t === 'false') return () => t === 'true';
    return (env) => {
      const v = env[t];
      if (!v) throw new Error(`wgsl-dual: '${t}' has no value (given: ${Object.keys(env).join(', ')}) in ${src}`);
      return v;
    };
  };
  const unaryExpr = (): Node => primary();
  const expr = (minPrec: number): Node => {
    let left = unaryExpr();
    for (;;) {
      const op = BINARY_OPS[peek()];
      if (!op || op[0] < minPrec) return left;
      i++;
      const right = expr(op[0] + 1);
      const l = left;
      left = (env) => op[1](l(env), right(env));
    }
  };
  const root = expr(0);
  if (i !== tokens.length) throw new Error(`wgsl-dual: unexpected '${tokens[i]}' at token ${i} of ${src}`);
  return root;
}

/** Evaluates to a dual number (throws if the expression is a boolean). */
export const evalDual = (src: string, env: Env): Dual => dual(compile(src)(env), src);
