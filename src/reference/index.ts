/**
 * src/reference — the float64 CPU reference implementation of every wgrad op.
 *
 * It is the test oracle for the GPU kernels and what gradcheck replays a
 * recorded tape on (with perturbed inputs, for central finite differences).
 * It is deliberately *not* a second engine: plain loops over contiguous
 * Float64Arrays, written to be obviously correct, not fast.
 *
 * Files by op family: tensor.ts (RefTensor + shape helpers), elementwise.ts (+ fused.ts),
 * reduce.ts, shape.ts, matmul.ts, conv.ts, nn.ts, augment.ts. This folder imports only types from
 * the rest of wgrad (the records it replays: ops/fuse.ts's FusedAttrs, data/augment.ts's
 * AugmentImageParams), so it never runs production code; in src/ only gradcheck uses it (and
 * nn/init.ts its float64 erfc), as test/import-graph.test.ts checks.
 *
 * Every op is exported as a plain function (tensors first, then an attrs
 * object) and through `referenceOps[name](inputs, attrs)`, the uniform form a
 * tape replayer calls. Every op validates its inputs and throws an Error that
 * names the op and the offending shapes/values. No op mutates its inputs.
 */
import { adaptiveAvgPool2d, avgPool2d, conv2d, maxPool2d } from './conv.ts';
import * as ew from './elementwise.ts';
import { fused } from './fused.ts';
import { linear, matmul } from './matmul.ts';
import { batchNorm, crossEntropy, dropout, layerNorm, logSoftmax, nllLoss, normalize, softmax } from './nn.ts';
import { argmax, argmin, logsumexp, max, mean, min, prod, sum, variance } from './reduce.ts';
import { concat, contiguous, expand, gather, indexSelect, pad2d, permute, reshape, scatterAdd, slice, stack } from './shape.ts';
import type { RefTensor } from './tensor.ts';

export * from './conv.ts';
export * from './elementwise.ts';
export * from './fused.ts';
export * from './matmul.ts';
export * from './nn.ts';
export * from './reduce.ts';
export * from './shape.ts';
export * from './tensor.ts';

/** The uniform calling convention of the registry. */
export type RefOp = (inputs: RefTensor[], attrs: any) => RefTensor;

/** Wraps `f` with a check that it got between `min` and `max` inputs. */
function withArity(name: string, min: number, max: number, f: RefOp): RefOp {
  return (inputs, attrs) => {
    if (!Array.isArray(inputs) || inputs.length < min || inputs.length > max) {
      const want = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
      const got = Array.isArray(inputs) ? inputs.length : typeof inputs;
      throw new Error(`${name}: expected ${want} inputs, got ${got}`);
    }
    return f(inputs, attrs ?? {});
  };
}

type OneInput = (x: RefTensor, attrs: any) => RefTensor;
type TwoInputs = (a: RefTensor, b: RefTensor, attrs: any) => RefTensor;

/** Ops of the form f(x, attrs) (unary ops simply ignore attrs). */
const oneInput: Record<string, OneInput> = {
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
  gelu: ew.gelu,
  geluTanh: ew.geluTanh,
  silu: ew.silu,
  leakyRelu: ew.leakyRelu,
  elu: ew.elu,
  softplus: ew.softplus,
  clamp: ew.clamp,
  addScalar: ew.addScalar,
  mulScalar: ew.mulScalar,
  divScalar: ew.divScalar,
  powScalar: ew.powScalar,
  rsubScalar: ew.rsubScalar,
  rdivScalar: ew.rdivScalar,
  maximumScalar: ew.maximumScalar,
  minimumScalar: ew.minimumScalar,
  gtScalar: ew.gtScalar,
  ltScalar: ew.ltScalar,
  eqScalar: ew.eqScalar,
  sum,
  mean,
  max,
  min,
  prod,
  var: variance,
  argmax,
  argmin,
  logsumexp,
  reshape,
  permute,
  expand,
  slice,
  contiguous,
  pad2d,
  softmax,
  logSoftmax,
  normalize,
  maxPool2d,
  avgPool2d,
  adaptiveAvgPool2d,
};

/** Ops of the form f(a, b, attrs). */
const twoInputs: Record<string, TwoInputs> = {
  add: ew.add,
  sub: ew.sub,
  mul: ew.mul,
  div: ew.div,
  pow: ew.pow,
  maximum: ew.maximum,
  minimum: ew.minimum,
  gt: ew.gt,
  lt: ew.lt,
  ge: ew.ge,
  le: ew.le,
  eq: ew.eq,
  matmul,
  indexSelect,
  gather,
  crossEntropy,
  nllLoss,
  dropout,
};

/** Every reference op by name: `referenceOps[name](inputs, attrs)`. */
export const referenceOps: Record<string, RefOp> = {
  ...Object.fromEntries(Object.entries(oneInput).map(([name, f]) => [name, withArity(name, 1, 1, ([x], attrs) => f(x, attrs))])),
  ...Object.fromEntries(Object.entries(twoInputs).map(([name, f]) => [name, withArity(name, 2, 2, ([a, b], attrs) => f(a, b, attrs))])),
  where: withArity('where', 3, 3, ([c, a, b]) => ew.where(c, a, b)),
  scatterAdd: withArity('scatterAdd', 3, 3, ([x, index, src], attrs) => scatterAdd(x, index, src, attrs as { dim: number })),
  fused: withArity('fused', 1, Infinity, (inputs, attrs) => fused(inputs, attrs)),
  concat: withArity('concat', 1, Infinity, (inputs, attrs) => concat(inputs, attrs)),
  stack: withArity('stack', 1, Infinity, (inputs, attrs) => stack(inputs, attrs)),
  linear: withArity('linear', 2, 3, ([x, w, b], attrs) => linear(x, w, b, attrs as { activation?: string })),
  conv2d: withArity('conv2d', 2, 3, ([x, w, b], attrs) => conv2d(x, w, b, attrs)),
  batchNorm: withArity('batchNorm', 1, 3, ([x, w, b], attrs) => batchNorm(x, w, b, attrs)),
  // Inputs [x, weight?, bias?]: attrs.hasWeight / hasBias say which of the optional ones are there.
  layerNorm: withArity('layerNorm', 1, 3, ([x, ...rest], attrs) =>
    layerNorm(x, attrs.hasWeight ? rest[0] : undefined, attrs.hasBias ? rest[attrs.hasWeight ? 1 : 0] : undefined, attrs),
  ),
};
