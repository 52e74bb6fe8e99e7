// Test inputs for the op tests (not a test file): seeded values with a chosen domain, laid out
// contiguously or as a non-contiguous view (transposed, strided slice, expanded), plus host
// read-back into the float64 reference's RefTensor so results can be compared with src/reference.

import { Tensor, tensor } from '../../src/index.ts';
import { Generator } from '../../src/random.ts';
import type { RefTensor } from '../../src/reference/index.ts';
import * as assert from 'uvu/assert';

/** normal: N(0,1)·scale; positive: [0.5, 2); away: ±[0.3, 1.5) (away from 0, for kinks/poles); int: integers in [-2, 2]. */
export type Domain = 'normal' | 'positive' | 'away' | 'int';
export type Layout = 'contiguous' | 'transposed' | 'sliced' | 'expanded';

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

export function hostValues(n: number, domain: Domain, seed: number, scale = 1): Float32Array {
  const g = new Generator(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    switch (domain) {
      case 'normal':
        out[i] = scale * g.normal();
        break;
      case 'positive':
        out[i] = 0.5 + 1.5 * g.uniform();
        break;
      case 'away':
        out[i] = (g.uniform() < 0.5 ? -1 : 1) * (0.3 + 1.2 * g.uniform());
        break;
      case 'int':
        out[i] = g.int(5) - 2;
        break;
    }
  }
  return out;
}

/**
 * A tensor of `shape` with values from `domain`, stored as `layout`:
 * transposed = last two dims swapped in memory (rank >= 2), sliced = every other element of a
 * longer last dim, expanded = dim 0 broadcast from size 1 (stride 0).
 */
export function make(shape: number[], opts: { domain?: Domain; seed?: number; layout?: Layout; scale?: number } = {}): Tensor {
  const { domain = 'normal', seed = 1, layout = 'contiguous', scale = 1 } = opts;
  switch (layout) {
    case 'contiguous':
      return tensor(hostValues(numel(shape), domain, seed, scale), shape);
    case 'transposed': {
      if (shape.length < 2) throw new Error('transposed layout needs rank >= 2');
      const s = [...shape];
      [s[s.length - 2], s[s.length - 1]] = [s[s.length - 1], s[s.length - 2]];
      return tensor(hostValues(numel(s), domain, seed, scale), s).transpose(-2, -1);
    }
    case 'sliced': {
      if (shape.length < 1) throw new Error('sliced layout needs rank >= 1');
      const s = [...shape];
      s[s.length - 1] = 2 * s[s.length - 1] + 1;
      return tensor(hostValues(numel(s), domain, seed, scale), s).slice(-1, 1, undefined, 2);
    }
    case 'expanded': {
      if (shape.length < 1) throw new Error('expanded layout needs rank >= 1');
      const s = [1, ...shape.slice(1)];
      return tensor(hostValues(numel(s), domain, seed, scale), s).expand(shape);
    }
  }
}

export async function host(t: Tensor): Promise<RefTensor> {
  return { data: Float64Array.from(await t.toArray()), shape: [...t.shape] };
}

/** Exact (or tol-relative) comparison of a GPU result with a float64 reference result, shapes included. */
export async function expectRef(gpu: Tensor, ref: RefTensor, tol = 0, what = ''): Promise<void> {
  assert.equal([...gpu.shape], [...ref.shape], `${what}: shape`);
  const got = await gpu.toArray();
  let scale = 0;
  for (const v of ref.data) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs(got[i] - ref.data[i]);
    if (!(err <= tol * Math.max(scale, 1e-30))) assert.unreachable(`${what}: element ${i} is ${got[i]}, reference ${ref.data[i]}`);
  }
}
