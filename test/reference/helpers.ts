/** Shared helpers for the reference tests (not a test file itself). */
import * as assert from 'uvu/assert';
import { type RefTensor, refFromFn, refTensor } from '../../src/reference/index.ts';

export const t = (data: number[], shape: number[]): RefTensor => refTensor(data, shape);
export const scalar = (v: number): RefTensor => refTensor([v], []);

/**
 * Deterministic test data that the torch scripts in the comments reproduce:
 * element i (row-major) = scale · fn(a·i + b), i.e. in Python
 * `scale * fn(a * torch.arange(n, dtype=torch.float64) + b).reshape(shape)`.
 */
export function seq(shape: number[], a: number, b: number, fn: (x: number) => number = Math.sin, scale = 1): RefTensor {
  return refFromFn(shape, (i) => scale * fn(a * i + b));
}

/** Asserts equal shapes and |actual − expected| <= tol·(1 + |expected|) elementwise (NaN matches NaN). */
export function close(actual: RefTensor, expected: ArrayLike<number>, shape?: readonly number[], tol = 1e-12): void {
  if (shape !== undefined) assert.equal([...actual.shape], [...shape], `shape ${JSON.stringify(actual.shape)}`);
  assert.is(actual.data.length, expected.length, 'element count');
  for (let i = 0; i < expected.length; i++) {
    const [a, e] = [actual.data[i], expected[i]];
    const ok = (Number.isNaN(a) && Number.isNaN(e)) || a === e || Math.abs(a - e) <= tol * (1 + Math.abs(e));
    if (!ok) assert.unreachable(`element ${i}: got ${a}, expected ${e}`);
  }
}

/** Asserts that fn throws an Error whose message contains every fragment. */
export function throwsWith(fn: () => unknown, ...fragments: string[]): void {
  try {
    fn();
  } catch (err) {
    const msg = (err as Error).message;
    for (const f of fragments) assert.ok(msg.includes(f), `message "${msg}" should contain "${f}"`);
    return;
  }
  assert.unreachable(`expected an error containing ${JSON.stringify(fragments)}`);
}
