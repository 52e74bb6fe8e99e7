// Every row of the elementwise formula tables (src/ops/elementwise.ts: the WGSL that the eager ops
// and fuse() both compile), evaluated in float64: the forward formula against the float64 reference
// op, and each backward formula against the exact derivative of the forward formula obtained by
// forward-mode (dual-number) differentiation — no finite differences, so a derivative that is off
// by 1e-9 relative fails. The tables are found by walking the module's exports, so a new row or
// table is checked without editing this file. Formulas name their operands (x or a, b forward;
// g, x, out or g, a, b backward): each is evaluated with exactly those names bound, so a formula
// that uses another name (a positional x0, or out in a forward formula) fails.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as elementwise from '../../src/ops/elementwise.ts';
import { referenceOps } from '../../src/reference/index.ts';
import { evalDual, type Env } from './wgsl-dual.ts';

interface Row {
  f: string;
  df?: string | null;
  da?: string | null;
  db?: string | null;
  params?: readonly string[];
}

/** Exported objects whose every value is a row with a WGSL forward formula `f`. */
const tables = Object.entries(elementwise).filter(
  ([, v]) =>
    v !== null &&
    typeof v === 'object' &&
    !Array.isArray(v) &&
    Object.values(v).length > 0 &&
    Object.values(v).every((row) => typeof (row as Row)?.f === 'string'),
) as [string, Record<string, Row>][];

// Float64 agreement expected of a formula; looser only where the WGSL is itself an approximation.
const TOLERANCE = 1e-10;
const LOOSER: Record<string, [number, string]> = {
  gelu: [1e-6, "erfc is a Chebyshev fit (relative error < 1.2e-7): its derivative is not the fit's derivative"],
};

const XS = [-2.3, -1.1, -0.45, 0.3, 0.8, 1.7, 2.6];
const EXPONENTS = [...XS, -1, 2, 3];
const G = 0.7; // the incoming gradient: backward formulas must be linear in it
const PARAMS = [0.6, 2.5]; // p.a, p.b

const c = (v: number, d = 0) => ({ v, d });
const close = (got: number, want: number, tol: number) => Math.abs(got - want) <= tol * Math.max(1, Math.abs(want));
const scalarRef = (name: string, inputs: number[], attrs: object): number | undefined =>
  referenceOps[name]?.(
    inputs.map((x) => ({ data: Float64Array.of(x), shape: [] })),
    attrs,
  ).data[0];

function attrsOf(table: string, row: Row): Record<string, number> {
  if (row.params) return Object.fromEntries(row.params.map((k, i) => [k, PARAMS[i]]));
  return table === 'SCALAR' ? { value: PARAMS[0] } : {};
}

test('the formula tables are found (and each row names a float64 reference op)', () => {
  const names = tables.map(([t]) => t);
  for (const t of ['UNARY', 'BINARY', 'SCALAR']) assert.ok(names.includes(t), `${t} in ${names}`);
  for (const [, rows] of tables) for (const op of Object.keys(rows)) assert.ok(referenceOps[op], `no reference op '${op}'`);
});

for (const [table, rows] of tables) {
  for (const [op, row] of Object.entries(rows)) {
    test(`${table}.${op}: forward = float64 reference, backward = exact derivative of the forward formula`, () => {
      const [tol] = LOOSER[op] ?? [TOLERANCE];
      const attrs = attrsOf(table, row);
      const p = { 'p.a': c(PARAMS[0]), 'p.b': c(PARAMS[1]) };
      let checked = 0;
      const binary = 'da' in row;
      const pairs: number[][] = binary ? XS.flatMap((a) => EXPONENTS.filter((b) => b !== a).map((b) => [a, b])) : XS.map((x) => [x]);
      // The operands by name: a, b of a binary row, else x.
      const operands = (xs: number[], seed = -1): Env =>
        binary ? { a: c(xs[0], seed === 0 ? 1 : 0), b: c(xs[1], seed === 1 ? 1 : 0) } : { x: c(xs[0], seed === 0 ? 1 : 0) };
      for (const xs of pairs) {
        const at = `at ${xs.join(', ')}`;
        const value = evalDual(row.f, { ...operands(xs), ...p }).v;
        if (!Number.isFinite(value)) continue; // outside the op's domain (log of a negative, ...)
        const ref = scalarRef(op, xs, attrs);
        if (ref !== undefined && Number.isFinite(ref))
          assert.ok(close(value, ref, tol), `${op} forward ${at}: WGSL ${value}, reference ${ref}`);
        const derivatives: [string, string | null | undefined, number][] = binary
          ? [
              ['da', row.da, 0],
              ['db', row.db, 1],
            ]
          : [['df', row.df, 0]];
        for (const [which, formula, k] of derivatives) {
          if (formula === null || formula === undefined) continue; // not differentiable (comparisons)
          const exact = evalDual(row.f, { ...operands(xs, k), ...p }).d;
          const env: Env = { g: c(G), ...operands(xs), ...(binary || table === 'SCALAR' ? {} : { out: c(value) }), ...p };
          const got = evalDual(formula, env).v;
          if (!Number.isFinite(exact) || Number.isNaN(got)) continue; // e.g. d/db of a negative base
          assert.ok(close(got, G * exact, tol), `${op} ${which} ${at}: formula gives ${got}, exact ${G} × ${exact} = ${G * exact}`);
          checked++;
        }
      }
      const wanted = row.df === null || row.da === null ? 0 : 3;
      assert.ok(checked >= wanted, `${op}: only ${checked} points in the domain were checked`);
    });
  }
}

test('powScalarFormula for integer, fractional and zero exponents, and its derivative', () => {
  for (const e of [2, 3, -1, 0.5, 0, -2]) {
    const { f, df } = elementwise.powScalarFormula(e);
    const p = { 'p.a': c(e), 'p.b': c(e - 1) };
    let checked = 0;
    for (const x of XS) {
      const r = evalDual(f, { x: c(x, 1), ...p });
      if (!Number.isFinite(r.v)) continue;
      assert.ok(close(r.v, Math.pow(x, e), TOLERANCE), `x^${e} at ${x}: ${r.v}`);
      const backward = evalDual(df, { g: c(G), x: c(x), ...p }).v;
      assert.ok(close(backward, G * r.d, TOLERANCE), `d x^${e} at ${x}: ${backward} vs ${G * r.d}`);
      checked++;
    }
    assert.ok(checked >= 3, `x^${e}: only ${checked} points checked`);
  }
});

test('WITH_NUMBER: the scalar steps of a binary op with a number operand equal its tensor formula, value and derivative', () => {
  const scalarRows = elementwise.SCALAR as Record<string, { f: string }>;
  const stepFormula = (op: string, v: number) => (op === 'powScalar' ? elementwise.powScalarFormula(v).f : scalarRows[op].f);
  for (const [op, steps] of Object.entries(elementwise.WITH_NUMBER)) {
    for (const int of [false, true]) {
      for (const v of [-1, 0.5, 2, 3]) {
        let checked = 0;
        for (const x of XS) {
          const want = evalDual(elementwise.BINARY[op as elementwise.BinaryOp].f, { a: c(x, 1), b: c(v) });
          if (!Number.isFinite(want.v)) continue;
          let got = c(x, 1);
          for (const [step, value] of steps(v, int)) {
            got = evalDual(stepFormula(step, value), { x: got, 'p.a': c(value), 'p.b': c(value - 1) });
          }
          const what = `${op}(${x}, ${v})${int ? ' int32' : ''}`;
          assert.ok(
            close(got.v, want.v, TOLERANCE) && close(got.d, want.d, TOLERANCE),
            `${what}: steps give ${got.v} (d ${got.d}), the tensor formula ${want.v} (d ${want.d})`,
          );
          checked++;
        }
        assert.ok(checked >= 3, `${op} with ${v}: only ${checked} points checked`);
      }
    }
  }
});

test('bind replaces operands by name, leaves p.a, p.b and WGSL names alone, and refuses an unbound operand', () => {
  assert.is(elementwise.bind('g * out * (1.0 - out)', { g: 'x0', x: 'x1', out: 'x2' }), 'x0 * x2 * (1.0 - x2)');
  assert.is(elementwise.bind('select(g * p.a, g, x > p.b)', { g: 'x0', x: 'x1' }), 'select(x0 * p.a, x0, x1 > p.b)');
  assert.is(elementwise.bind('a * b + p.a', { a: '(y + 1.0)', b: 'exp(x3)', 'p.a': '2.0' }), '(y + 1.0) * exp(x3) + 2.0');
  const nan = (x: string) => `(bitcast<u32>(${x}) & 0x7fffffffu) > 0x7f800000u`;
  assert.is(elementwise.bind(nan('x'), { x: 'x0' }), nan('x0'));
  assert.throws(() => elementwise.bind('g * out', { g: 'x0', x: 'x1' }), /uses 'out', which is not bound \(given: g, x\)/);
});

test('the evaluator itself: a wrong derivative is caught, and unknown WGSL is refused', () => {
  const x = 0.8;
  const s = 1 / (1 + Math.exp(-x));
  assert.ok(close(evalDual('1.0 / (1.0 + exp(-x0))', { x0: c(x, 1) }).d, s * (1 - s), 1e-14));
  const wrong = evalDual('x0 * x2 * (1.0 - x2) * 1.008', { x0: c(1), x2: c(s) }).v;
  assert.not.ok(close(wrong, s * (1 - s), TOLERANCE));
  assert.is(evalDual('select(1.0, 2.0, x0 > 0.0 && x0 < 1.0)', { x0: c(0.5) }).v, 2);
  assert.throws(() => evalDual('erf(x0)', { x0: c(1) }), /unknown function 'erf'/);
});

test.run();
