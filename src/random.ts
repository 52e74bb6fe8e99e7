// Seeded random numbers on the host. `manualSeed(n)` makes every random op repeatable (rand,
// randn, parameter initialisation, dropout masks, augmentation parameters, data shuffling).
// Generator: PCG32 (O'Neill), small and statistically good; state is two u64 kept as BigInt-free
// 32-bit halves for speed.

/**
 * A seeded PCG32 random number generator on the host. Random ops take one as `generator`;
 * without it they use defaultGenerator (seeded by manualSeed). Its state can be saved and
 * restored (getState/setState), so a resumed run draws the same numbers.
 *
 * @example
 * const g = new Generator(42);
 * console.log(g.uniform(), g.normal(), g.int(10), g.permutation(5));
 * const x = randn([2, 3], { generator: g }); // independent of manualSeed
 */
export class Generator {
  private hi = 0;
  private lo = 0;
  private spare: number | null = null;

  constructor(seed = 0x853c49e6) {
    this.seed(seed);
  }

  seed(seed: number): void {
    // splitmix-style scrambling of the seed into the 64-bit state
    let s = (seed >>> 0) ^ 0x9e3779b9;
    s = Math.imul(s ^ (s >>> 16), 0x85ebca6b);
    s = Math.imul(s ^ (s >>> 13), 0xc2b2ae35);
    this.hi = (s ^ (s >>> 16)) >>> 0;
    this.lo = (Math.floor(seed / 2 ** 32) ^ 0x2545f491) >>> 0;
    this.spare = null;
    this.nextU32();
  }

  /** Serialisable state (for checkpoints): [hi, lo], plus normal()'s cached second value if any. */
  getState(): number[] {
    return this.spare === null ? [this.hi, this.lo] : [this.hi, this.lo, this.spare];
  }

  setState(state: readonly number[]): void {
    const ok =
      Array.isArray(state) &&
      (state.length === 2 || state.length === 3) &&
      state.slice(0, 2).every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32) &&
      (state.length === 2 || Number.isFinite(state[2]));
    if (!ok)
      throw new Error(
        `Generator.setState: expected [hi, lo] (integers in 0..2^32-1) and an optional finite spare normal, as getState() returns; got ${JSON.stringify(state)}`,
      );
    [this.hi, this.lo] = [state[0] >>> 0, state[1] >>> 0];
    this.spare = state.length > 2 ? state[2] : null;
  }

  nextU32(): number {
    // 64-bit LCG step: state = state * 6364136223846793005 + 1442695040888963407, in 32-bit halves.
    const oldHi = this.hi;
    const oldLo = this.lo;
    const mulHi = 0x5851f42d;
    const mulLo = 0x4c957f2d;
    const lo = Math.imul(oldLo, mulLo) >>> 0;
    const carry = mulhiU32(oldLo, mulLo);
    const hi = (carry + Math.imul(oldHi, mulLo) + Math.imul(oldLo, mulHi)) >>> 0;
    const incLo = 0xf767814f;
    const incHi = 0x14057b7e;
    const newLo = (lo + incLo) >>> 0;
    const c = newLo < lo ? 1 : 0;
    this.lo = newLo;
    this.hi = (hi + incHi + c) >>> 0;
    // PCG output (XSH-RR): x = state ^ (state >> 18); low 32 bits of x >> 27, rotated by state >> 59.
    const xHi = (oldHi ^ (oldHi >>> 18)) >>> 0;
    const xLo = (oldLo ^ ((oldLo >>> 18) | (oldHi << 14))) >>> 0;
    const xorshifted = ((xLo >>> 27) | (xHi << 5)) >>> 0;
    const rot = oldHi >>> 27;
    return ((xorshifted >>> rot) | (xorshifted << ((32 - rot) & 31))) >>> 0;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Standard normal (Box–Muller, caching the second value). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Fisher–Yates permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}

function mulhiU32(a: number, b: number): number {
  const aHi = a >>> 16,
    aLo = a & 0xffff,
    bHi = b >>> 16,
    bLo = b & 0xffff;
  const lolo = aLo * bLo;
  const hilo = aHi * bLo;
  const lohi = aLo * bHi;
  const mid = (lolo >>> 16) + (hilo & 0xffff) + (lohi & 0xffff);
  return (aHi * bHi + (hilo >>> 16) + (lohi >>> 16) + (mid >>> 16)) >>> 0;
}

/**
 * The default generator every seeded op uses.
 *
 * @example
 * const state = defaultGenerator.getState();
 * const a = await randn([3]).toArray();
 * defaultGenerator.setState(state);
 * const b = await randn([3]).toArray(); // the same values as a
 */
export const defaultGenerator = new Generator();

/**
 * Makes wgrad's random ops repeatable, like torch.manual_seed.
 *
 * @example
 * manualSeed(0);
 * const a = await randn([3]).toArray();
 * manualSeed(0);
 * const b = await randn([3]).toArray(); // equal to a
 */
export function manualSeed(seed: number): void {
  defaultGenerator.seed(seed);
}
