/**
 * Matrix-product reference ops: matmul (torch.matmul semantics) and linear.
 */
import { add, relu } from './elementwise.ts';
import { permute } from './shape.ts';
import { type RefTensor, broadcastShapes, broadcastTo, checkTensor, fmt, numel } from './tensor.ts';

/**
 * torch.matmul: 1-D·1-D is a dot product (shape []); a 1-D left operand gets a
 * leading 1 and a 1-D right operand a trailing 1, removed again afterwards;
 * dims before the last two are batch dims and broadcast.
 */
export function matmul(a: RefTensor, b: RefTensor): RefTensor {
  checkTensor('matmul', a, 'first input');
  checkTensor('matmul', b, 'second input');
  if (a.shape.length === 0 || b.shape.length === 0) {
    throw new Error(`matmul: both inputs need rank >= 1, got shapes ${fmt(a.shape)} and ${fmt(b.shape)}`);
  }
  const aShape = a.shape.length === 1 ? [1, a.shape[0]] : [...a.shape];
  const bShape = b.shape.length === 1 ? [b.shape[0], 1] : [...b.shape];
  const [m, k] = aShape.slice(-2);
  const [k2, n] = bShape.slice(-2);
  if (k !== k2) {
    throw new Error(`matmul: shapes ${fmt(a.shape)} and ${fmt(b.shape)} cannot be multiplied (${k} != ${k2})`);
  }
  const batch = broadcastShapes(aShape.slice(0, -2), bShape.slice(0, -2), 'matmul (batch dims)');
  const A = broadcastTo({ data: a.data, shape: aShape }, [...batch, m, k], 'matmul').data;
  const B = broadcastTo({ data: b.data, shape: bShape }, [...batch, k, n], 'matmul').data;
  const out = new Float64Array(numel(batch) * m * n);
  for (let bi = 0; bi < numel(batch); bi++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += A[bi * m * k + i * k + p] * B[bi * k * n + p * n + j];
        out[bi * m * n + i * n + j] = s;
      }
    }
  }
  const shape = [...batch];
  if (a.shape.length > 1) shape.push(m);
  if (b.shape.length > 1) shape.push(n);
  return { data: out, shape };
}

/** x·Wᵀ + b with x [..., in], W [out, in], b [out] (optional); relu(…) with activation 'relu'. */
export function linear(x: RefTensor, weight: RefTensor, bias?: RefTensor, attrs: { activation?: string } = {}): RefTensor {
  const y = affine(x, weight, bias);
  return attrs.activation === 'relu' ? relu(y) : y;
}

function affine(x: RefTensor, weight: RefTensor, bias?: RefTensor): RefTensor {
  checkTensor('linear', x, 'x');
  checkTensor('linear', weight, 'weight');
  const w = weight.shape;
  if (w.length !== 2 || x.shape.length === 0 || x.shape[x.shape.length - 1] !== w[1]) {
    throw new Error(`linear: x ${fmt(x.shape)} and weight ${fmt(w)} do not fit (need x [..., in], weight [out, in])`);
  }
  const y = matmul(x, permute(weight, { dims: [1, 0] }));
  if (bias === undefined) return y;
  checkTensor('linear', bias, 'bias');
  if (bias.shape.length !== 1 || bias.shape[0] !== w[0]) {
    throw new Error(`linear: bias ${fmt(bias.shape)} must have shape [${w[0]}] for weight ${fmt(w)}`);
  }
  return add(y, bias);
}
