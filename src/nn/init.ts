// Parameter initialisation as torch.nn.init does it, drawing from a seeded host generator
// (defaultGenerator unless one is given), so `manualSeed(n)` makes every model repeatable.

import type { Tensor } from '../tensor.ts';
import { rand, randn, tensor } from '../creation.ts';
import { erfc } from '../reference/elementwise.ts';
import { fmt, numel } from '../shape.ts';
import { defaultGenerator, type Generator } from '../random.ts';

/** fan_in and fan_out of a weight [out, in, ...kernel] (torch's _calculate_fan_in_and_fan_out). @example nn.init.fans([16, 3, 3, 3]) // { fanIn: 27, fanOut: 144 } */
export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2) throw new Error(`init: fan in and fan out need a weight with at least 2 dims, got shape ${fmt(shape)}`);
  const receptive = numel(shape.slice(2));
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

/** Gain of torch.nn.init.calculate_gain for 'linear' / 'relu' / 'leaky_relu' (slope a). @example nn.init.gain('relu') // √2 */
export function gain(nonlinearity: 'linear' | 'relu' | 'leaky_relu', a = 0.01): number {
  if (nonlinearity === 'relu') return Math.sqrt(2);
  if (nonlinearity === 'leaky_relu') return Math.sqrt(2 / (1 + a * a));
  return 1;
}

/** Options of the Kaiming initialisers: slope a, fan mode, nonlinearity, generator. */
export interface KaimingOptions {
  /** Negative slope of the leaky ReLU after this layer (PyTorch's layers use √5 for their default init). */
  a?: number;
  mode?: 'fanIn' | 'fanOut';
  nonlinearity?: 'relu' | 'leaky_relu';
  generator?: Generator;
}

function kaimingStd(shape: readonly number[], o: KaimingOptions): number {
  const { fanIn, fanOut } = fans(shape);
  const fan = (o.mode ?? 'fanIn') === 'fanIn' ? fanIn : fanOut;
  return gain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0) / Math.sqrt(fan);
}

/** U(−bound, bound) with bound = gain · √(3 / fan) (torch.nn.init.kaiming_uniform_). @example nn.init.kaimingUniform([64, 32], { a: Math.sqrt(5) }) // nn.Linear(32, 64)'s weight init */
export function kaimingUniform(shape: readonly number[], o: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(shape, o);
  return uniform(shape, -bound, bound, o.generator);
}

/** N(0, (gain / √fan)²) (torch.nn.init.kaiming_normal_). @example nn.init.kaimingNormal([16, 3, 3, 3], { mode: 'fanOut', nonlinearity: 'relu' }) */
export function kaimingNormal(shape: readonly number[], o: KaimingOptions = {}): Tensor {
  return randn(shape, { std: kaimingStd(shape, o), generator: o.generator ?? defaultGenerator });
}

/** U(low, high) values (torch.nn.init.uniform_). @example nn.init.uniform([10], -0.1, 0.1) */
export function uniform(shape: readonly number[], low: number, high: number, generator: Generator = defaultGenerator): Tensor {
  return rand(shape, { low, high, generator });
}

/** U(±gain·√(6 / (fanIn + fanOut))) (torch.nn.init.xavier_uniform_). @example nn.init.xavierUniform([96, 32]) // an attention in-projection's init */
export function xavierUniform(shape: readonly number[], opts: { gain?: number; generator?: Generator } = {}): Tensor {
  const { fanIn, fanOut } = fans(shape);
  const bound = (opts.gain ?? 1) * Math.sqrt(6 / (fanIn + fanOut));
  return uniform(shape, -bound, bound, opts.generator);
}

/** N(0, (gain·√(2 / (fanIn + fanOut)))²) (torch.nn.init.xavier_normal_). @example nn.init.xavierNormal([10, 20], { gain: 2 }) */
export function xavierNormal(shape: readonly number[], opts: { gain?: number; generator?: Generator } = {}): Tensor {
  const { fanIn, fanOut } = fans(shape);
  return randn(shape, { std: (opts.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut)), generator: opts.generator ?? defaultGenerator });
}

/**
 * N(mean, std²) restricted to [a, b] (torch.nn.init.trunc_normal_; defaults mean 0, std 1, a −2,
 * b 2: the bounds are absolute values, not multiples of std, as in PyTorch). Drawn by rejection,
 * so the distribution is exact; an interval holding less than 0.1 % of the mass is refused.
 *
 * @example nn.init.truncNormal([1, 17, 64], { std: 0.02 }) // a ViT's position embedding
 */
export function truncNormal(
  shape: readonly number[],
  opts: { mean?: number; std?: number; a?: number; b?: number; generator?: Generator } = {},
): Tensor {
  const { mean = 0, std = 1, a = -2, b = 2, generator = defaultGenerator } = opts;
  if (!(std > 0) || !(a < b)) throw new Error(`truncNormal: need std > 0 and a < b, got std ${std}, a ${a}, b ${b}`);
  const mass = 0.5 * (erfc((mean - b) / std / Math.SQRT2) - erfc((mean - a) / std / Math.SQRT2));
  if (!(mass >= 1e-3))
    throw new Error(`truncNormal: [${a}, ${b}] holds only ${mass.toExponential(2)} of N(${mean}, ${std}²); choose bounds nearer the mean`);
  const out = new Float32Array(numel(shape));
  for (let i = 0; i < out.length; i++) {
    let v: number;
    do v = mean + std * generator.normal();
    while (v < a || v > b);
    out[i] = v;
  }
  return tensor(out, shape);
}
