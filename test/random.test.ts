import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator } from '../src/random.ts';

test('Generator is PCG32 (XSH-RR): matches an independent Python implementation', () => {
  // Python: s=(3612041314<<32)|2641128908; repeat: old=s; s=(old*6364136223846793005+1442695040888963407)%2**64;
  //   xs=(((old>>18)^old)>>27)&0xffffffff; rot=old>>59; out=((xs>>rot)|(xs<<((-rot)&31)))&0xffffffff
  const g = new Generator(42);
  g.setState([3612041314, 2641128908]);
  assert.equal(
    Array.from({ length: 5 }, () => g.nextU32()),
    [1521320506, 354212814, 3820067119, 1102480900, 176611412],
  );
});

test('uniform() is flat on [0, 1) and normal() has mean 0, variance 1', () => {
  const g = new Generator(7);
  const n = 100000;
  const bins = new Array(10).fill(0);
  let s = 0,
    s2 = 0;
  for (let i = 0; i < n; i++) {
    const u = g.uniform();
    assert.ok(u >= 0 && u < 1);
    bins[Math.floor(u * 10)]++;
    const z = g.normal();
    s += z;
    s2 += z * z;
  }
  for (const b of bins) assert.ok(Math.abs(b / n - 0.1) < 0.005, `bin fraction ${b / n}`);
  assert.ok(Math.abs(s / n) < 0.02 && Math.abs(s2 / n - 1) < 0.03, `mean ${s / n}, var ${s2 / n}`);
});

test('same seed, same stream; state round-trips', () => {
  const a = new Generator(3);
  const b = new Generator(3);
  assert.equal(
    Array.from({ length: 4 }, () => a.normal()),
    Array.from({ length: 4 }, () => b.normal()),
  );
  const st = a.getState();
  const x = [a.uniform(), a.normal(), a.int(10)];
  a.setState(st);
  assert.equal([a.uniform(), a.normal(), a.int(10)], x);
  const p = a.permutation(50);
  assert.equal(
    [...p].sort((u, v) => u - v),
    Array.from({ length: 50 }, (_, i) => i),
  );
});

test.run();
