// matmul with torch.matmul semantics: 1-D operands are promoted (and the added dim removed
// afterwards), batch dims broadcast. kernels/matmul.wgsl reads both operands through strides,
// so transposed operands (a.T, the backward's gᵀ) cost no copy.

import { Tensor } from '../tensor.ts';
import { record } from '../autograd/graph.ts';
import { broadcastShapes, collapse, fmt, numel } from '../shape.ts';
import { Uniforms } from './uniforms.ts';
import { expand, reshape, transpose, unsqueeze, squeeze } from './shape.ts';
import { sumTo } from './reduce.ts';

const TILE = 32; // outputs per workgroup along M and N (8×8 threads × 4×4 each)

/** C[b] = A[b] · B[b] for 3-D-or-more views with broadcast batch dims; no autograd. */
export function matmulRaw(a: Tensor, b: Tensor, label = 'matmul'): Tensor {
  const M = a.shape[a.ndim - 2];
  const K = a.shape[a.ndim - 1];
  const N = b.shape[b.ndim - 1];
  const batch = broadcastShapes(label, a.shape.slice(0, -2), b.shape.slice(0, -2));
  const out = Tensor.empty([...batch, M, N], a.device);
  const nb = numel(batch);
  if (M * N * nb === 0) return out;
  const bstr = (t: Tensor) => {
    const lead = batch.length - (t.ndim - 2);
    return batch.map((d, i) => (i < lead || t.shape[i - lead] === 1 ? 0 : t.strides[i - lead]));
  };
  const c = collapse(batch, [bstr(a), bstr(b), batch.map((_, i) => M * N * numel(batch.slice(i + 1)))]);
  if (c.shape.length > 4) throw new Error(`matmul: batch dims ${fmt(batch)} are too irregular (more than 4 after merging)`);
  if (nb > 65535) throw new Error(`matmul: ${nb} batch entries exceed the 65535 the kernel supports`);
  const u = new Uniforms()
    .vec4u(c.shape.length ? c.shape : [1])
    .vec4u(c.strides[0])
    .vec4u(c.strides[1])
    .u32(M).u32(N).u32(K).u32(c.shape.length)
    .u32(a.offset).u32(b.offset)
    .u32(a.strides[a.ndim - 2]).u32(a.strides[a.ndim - 1])
    .u32(b.strides[b.ndim - 2]).u32(b.strides[b.ndim - 1]);
  a.device.dispatch({
    kernel: 'matmul',
    buffers: [a.storage.buffer, b.storage.buffer, out.storage.buffer],
    access: 'rrw',
    uniforms: u.bytes,
    workgroups: [Math.ceil(N / TILE), Math.ceil(M / TILE), nb],
    label,
  });
  return out;
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  a.assertAlive('matmul');
  b.assertAlive('matmul');
  if (a.ndim === 0 || b.ndim === 0) throw new Error(`matmul: both operands need at least 1 dim (got ${fmt(a.shape)} and ${fmt(b.shape)}); use mul for scalars`);
  const a2 = a.ndim === 1 ? unsqueeze(a, 0) : a;
  const b2 = b.ndim === 1 ? unsqueeze(b, 1) : b;
  const K = a2.shape[a2.ndim - 1];
  if (b2.shape[b2.ndim - 2] !== K) {
    throw new Error(`matmul: shapes ${fmt(a.shape)} and ${fmt(b.shape)} are not aligned: ${K} (last dim of the first) != ${b2.shape[b2.ndim - 2]} (${b.ndim === 1 ? 'only' : 'second-to-last'} dim of the second)`);
  }
  const [ba, bb] = [a2.shape.slice(0, -2), b2.shape.slice(0, -2)];
  for (let i = 1; i <= Math.min(ba.length, bb.length); i++) {
    const [da, db] = [ba[ba.length - i], bb[bb.length - i]];
    if (da !== db && da !== 1 && db !== 1) throw new Error(`matmul: shapes ${fmt(a.shape)} and ${fmt(b.shape)}: batch dims ${fmt(ba)} and ${fmt(bb)} cannot be broadcast together`);
  }
  let out = matmulRaw(a2, b2);
  out = record(out, 'matmul', [a2, b2], {}, (g) => {
    const ga = matmulRaw(g, transpose(b2, -2, -1), 'matmul.backward');
    const gb = matmulRaw(transpose(a2, -2, -1), g, 'matmul.backward');
    return [sumTo(ga, a2.shape), sumTo(gb, b2.shape)];
  });
  const temps: Tensor[] = [];
  if (a.ndim === 1) {
    temps.push(out);
    out = squeeze(out, -2);
  }
  if (b.ndim === 1) {
    temps.push(out);
    out = squeeze(out, -1);
  }
  // Without a graph, nothing refers to the promoted operands or the unsqueezed result any more.
  if (!out.node) for (const t of [...temps, a2, b2]) if (t !== a && t !== b) t.dispose();
  return out;
}

export { expand, reshape };
