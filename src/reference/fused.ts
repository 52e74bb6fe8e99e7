/**
 * The reference of `fuse()` (src/ops/fuse.ts): a fused elementwise chain is recorded as ONE
 * node 'fused' whose attrs carry the traced program as data. This interpreter replays that
 * program step by step on the float64 reference ops of elementwise.ts, so gradcheck and
 * compareForward check a fused kernel against the same float64 math as the unfused eager ops.
 */
import * as ew from './elementwise.ts';
import type { RefTensor } from './tensor.ts';
// The step record is fuse()'s (a type only: the oracle runs none of the GPU code).
import type { FusedAttrs } from '../ops/fuse.ts';

const UNARY: Record<string, (x: RefTensor) => RefTensor> = {
  neg: ew.neg,
  exp: ew.exp,
  log: ew.log,
  sqrt: ew.sqrt,
  abs: ew.abs,
  relu: ew.relu,
  sigmoid: ew.sigmoid,
  tanh: ew.tanh,
  square: ew.square,
  reciprocal: ew.reciprocal,
};
const BINARY: Record<string, (a: RefTensor, b: RefTensor) => RefTensor> = {
  add: ew.add,
  sub: ew.sub,
  mul: ew.mul,
  div: ew.div,
  maximum: ew.maximum,
  minimum: ew.minimum,
  gt: ew.gt,
  lt: ew.lt,
  ge: ew.ge,
  le: ew.le,
  eq: ew.eq,
};
const SCALAR: Record<string, (x: RefTensor, attrs: ew.ScalarAttrs) => RefTensor> = {
  addScalar: ew.addScalar,
  mulScalar: ew.mulScalar,
  rsubScalar: ew.rsubScalar,
  rdivScalar: ew.rdivScalar,
  maximumScalar: ew.maximumScalar,
  minimumScalar: ew.minimumScalar,
  gtScalar: ew.gtScalar,
  ltScalar: ew.ltScalar,
  eqScalar: ew.eqScalar,
};

/** Evaluates a fused program on `inputs` in float64. */
export function fused(inputs: RefTensor[], attrs: FusedAttrs): RefTensor {
  const steps = attrs?.steps;
  if (!Array.isArray(steps) || steps.length === 0) throw new Error('fused: attrs.steps must be a non-empty array of steps');
  const values: RefTensor[] = [...inputs];
  for (const [i, s] of steps.entries()) {
    const n = values.length;
    const args = s.args.map((k) => {
      if (!Number.isInteger(k) || k < 0 || k >= n) throw new Error(`fused: step ${i} ('${s.op}') reads value ${k}, but only ${n} exist`);
      return values[k];
    });
    const want = s.op in BINARY ? 2 : 1;
    if (args.length !== want) throw new Error(`fused: step ${i} ('${s.op}') takes ${want} arguments, got ${args.length}`);
    if (s.op in UNARY) values.push(UNARY[s.op](args[0]));
    else if (s.op in BINARY) values.push(BINARY[s.op](args[0], args[1]));
    else if (s.op in SCALAR) values.push(SCALAR[s.op](args[0], { value: s.value! }));
    else if (s.op === 'powScalar') values.push(ew.powScalar(args[0], { exponent: s.exponent! }));
    else throw new Error(`fused: step ${i} has unknown op '${s.op}'`);
  }
  return values[values.length - 1];
}
