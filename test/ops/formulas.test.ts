// Every row of the elementwise formula tables (src/ops/elementwise.ts: the WGSL that the eager ops
// and fuse() both compile), evaluated in float64: the forward formula against the float64 reference
// op, and each backward formula against the exact derivative of the forward formula obtained by
// forward-mode (dual-number) differentiation — no finite differences, so a derivative that is off
// by 1e-9 relative fails. The tables are found by walking the module's exports, so a new row or
// table is checked without editing this file.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as elementwise from '../../src/ops/elementwise.ts';
import { referenceOps } from '../../src/reference/index.ts';
import { evalDual, type Env } from './wgsl-dual.ts';

interface Row { f: string; df?: string | null; da?: string | null; db?: string | null; params?: readonly string[] }

/** Exported objects whose every value is a row with a WGSL forward formula `f`. */
const tables = Object.entries(elementwise).filter(([, v]) => v !== null && typeof v === 'object' && !Array.isArray(v)
  && Object.values(v).length > 0 && Object.values(v).every((row) => typeof (row as Row)?.f === 'string')) as [string, Record<string, Row>][];

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
  referenceOps[name]?.(inputs.map((x) => ({ data: Float64Array.of(x), shape: [] })), attrs).data[0];

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
      for (const xs of pairs) {
        const at = `at ${xs.join(', ')}`;
        const value = evalDual(row.f, { x0: c(xs[0]), x1: c(xs[1] ?? 0), ...p }).v;
        if (!Number.isFinite(value)) continue; // outside the op's domain (log of a negative, ...)
        const ref = scalarRef(op, xs, attrs);
        if (ref !== undefined && Number.isFinite(ref)) assert.ok(close(value, ref, tol), `${op} forward ${at}: WGSL ${value}, reference ${ref}`);
        const derivatives: [string, string | null | undefined, number][] = binary ? [['da', row.da, 0], ['db', row.db, 1]] : [['df', row.df, 0]];
        for (const [which, formula, k] of derivatives) {
          if (formula === null || formula === undefined) continue; // not differentiable (comparisons)
          const seeded: Env = { x0: c(xs[0], k === 0 ? 1 : 0), x1: c(xs[1] ?? 0, k === 1 ? 1 : 0), ...p };
          const exact = evalDual(row.f, seeded).d;
          const env: Env = binary ? { x0: c(G), x1: c(xs[0]), x2: c(xs[1]), ...p } : { x0: c(G), x1: c(xs[0]), x2: c(value), ...p };
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

test('powExpr (powScalar) for integer, fractional and zero exponents, and its derivative', () => {
  for (const e of [2, 3, -1, 0.5, 0, -2]) {
    for (const x of XS) {
      const f = elementwise.powExpr('x0', 'p.a', e);
      const r = evalDual(f, { x0: c(x, 1), 'p.a': c(e) });
      if (!Number.isFinite(r.v)) continue;
      assert.ok(close(r.v, Math.pow(x, e), TOLERANCE), `x^${e} at ${x}: ${r.v}`);
      const backward = e === 0 ? 0 : evalDual(`x0 * p.a * ${elementwise.powExpr('x1', 'p.b', e - 1)}`, { x0: c(G), x1: c(x), 'p.a': c(e), 'p.b': c(e - 1) }).v;
      assert.ok(close(backward, G * r.d, TOLERANCE), `d x^${e} at ${x}: ${backward} vs ${G * r.d}`);
    }
  }
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
