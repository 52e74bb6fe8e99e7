// matmul with torch.matmul semantics: 1-D operands are promoted (and the added dim removed
// afterwards), batch dims broadcast; the backward rule is two more matmuls. The kernel is chosen
// per adapter and shape (launches: src/ops/matmul-launch.ts and src/ops/codegen/matmul-vec4.ts):
//   vec4    generated (codegen/matmul-vec4.ts) — software adapters (lavapipe): subgroup-shared
//           vec4 loads, no barriers; needs K and the operands' strides/offsets to be multiples of 4.
//   tiled   kernels/matmul_tiled.wgsl — discrete GPUs: double-buffered shared-memory tiles +
//           register blocking, vec4 or scalar global loads (matmulTuning.tiled).
//   generic kernels/matmul.wgsl — any strides, any adapter; the fallback.
// All three read operands through strides, so transposed operands (x·Wᵀ, the backward's gᵀ) cost
// no copy. WGRAD_MATMUL=generic|vec4|tiled (or setMatmulKernel) forces one kernel wherever it
// applies, for tests and benchmarks; matmulPlan says what a call would run.

import { Tensor } from '../tensor.ts';
import { record } from '../autograd/graph.ts';
import { broadcastShapes, collapse, fmt, numel } from '../shape.ts';
import { transpose, unsqueeze, squeeze } from './shape.ts';
import { sumTo } from './reduce.ts';
import type { Device } from '../device/device.ts';
import { genericLaunch, tiledLaunch } from './matmul-launch.ts';
import type { Epilogue, Launch, MatmulKernel, MatmulPlan, Operand, Problem } from './matmul-launch.ts';
import { vec4Launch } from './codegen/matmul-vec4.ts';

export type { Epilogue, MatmulKernel, MatmulPlan } from './matmul-launch.ts';

const KERNELS: readonly MatmulKernel[] = ['generic', 'vec4', 'tiled'];

function kernelFromEnv(): MatmulKernel | null {
  const v = typeof process === 'undefined' ? undefined : process.env?.WGRAD_MATMUL;
  if (!v || v === 'auto') return null;
  if (!(KERNELS as readonly string[]).includes(v))
    throw new Error(`wgrad: WGRAD_MATMUL=${v} is not a matmul kernel (use generic, vec4, tiled or auto)`);
  return v as MatmulKernel;
}
let forced: MatmulKernel | null = kernelFromEnv();

/**
 * Forces `kernel` for every matmul it can run (the others use the generic kernel); null restores
 * the automatic choice. Returns the previous setting.
 */
export function setMatmulKernel(kernel: MatmulKernel | null): MatmulKernel | null {
  if (kernel !== null && !KERNELS.includes(kernel))
    throw new Error(`setMatmulKernel: unknown kernel '${kernel}' (use ${KERNELS.join(', ')} or null)`);
  const prev = forced;
  forced = kernel;
  return prev;
}

// ---- choice -----------------------------------------------------------------------------------

function choose(dev: Device, p: Problem): Launch {
  const nb = numel(p.bshape);
  if (nb > 65535) throw new Error(`matmul: ${nb} batch entries exceed the 65535 the kernels support`);
  const want: MatmulKernel = forced ?? (dev.info.family === 'software' ? 'vec4' : 'tiled');
  if (want === 'generic') return genericLaunch(p);
  // Tiny products: one generic dispatch is as good as anything on a GPU.
  if (!forced && want === 'tiled' && (p.M < 32 || p.N < 32)) return genericLaunch(p, 'small output');
  const l = want === 'vec4' ? vec4Launch(dev, p) : tiledLaunch(p);
  return typeof l === 'string' ? genericLaunch(p, `${want}: ${l}`) : l;
}

function problem(label: string, a: Tensor, b: Tensor): { p: Problem; batch: number[] } {
  const M = a.shape[a.ndim - 2];
  const K = a.shape[a.ndim - 1];
  const N = b.shape[b.ndim - 1];
  const batch = broadcastShapes(label, a.shape.slice(0, -2), b.shape.slice(0, -2));
  const bstr = (t: Tensor) => {
    const lead = batch.length - (t.ndim - 2);
    return batch.map((d, i) => (i < lead || t.shape[i - lead] === 1 ? 0 : t.strides[i - lead]));
  };
  const c = collapse(batch, [bstr(a), bstr(b), batch.map((_, i) => M * N * numel(batch.slice(i + 1)))]);
  if (c.shape.length > 4) throw new Error(`${label}: batch dims ${fmt(batch)} are too irregular (more than 4 after merging)`);
  const op = (t: Tensor, strides: number[]): Operand => ({
    buffer: t.storage.buffer,
    offset: t.offset,
    rs: t.strides[t.ndim - 2],
    cs: t.strides[t.ndim - 1],
    bstrides: strides,
  });
  return { p: { M, N, K, bshape: c.shape, a: op(a, c.strides[0]), b: op(b, c.strides[1]) }, batch };
}

/** Which kernel matmulRaw(a, b) would run (a [..., M, K], b [..., K, N]), and why. */
export function matmulPlan(a: Tensor, b: Tensor): MatmulPlan {
  const { p } = problem('matmulPlan', a, b);
  const { kernel, detail } = choose(a.device, p);
  return { kernel, detail };
}

/**
 * C[b] = A[b] · B[b] for 2-D-or-more views with broadcast batch dims; no autograd. `epilogue`
 * fuses + bias (see epilogueFits) and an activation into the kernel's store.
 */
export function matmulRaw(a: Tensor, b: Tensor, label = 'matmul', epilogue?: Epilogue): Tensor {
  const { p, batch } = problem(label, a, b);
  if (epilogue?.bias && !epilogueFits(epilogue.bias, p.N))
    throw new Error(`wgrad internal: ${label}: bias ${fmt(epilogue.bias.shape)} cannot be fused (needs a contiguous [${p.N}] at offset 0)`);
  const out = Tensor.empty([...batch, p.M, p.N], a.device);
  if (p.M * p.N * numel(batch) === 0) return out;
  if (p.K === 0) {
    genericLaunch(p).run(a.device, out.storage.buffer, label, epilogue); // zeros, then the epilogue
    return out;
  }
  choose(a.device, p).run(a.device, out.storage.buffer, label, epilogue);
  return out;
}

/** Whether `bias` can be added in a matmul epilogue for N output columns. */
export function epilogueFits(bias: Tensor, N: number): boolean {
  return bias.ndim === 1 && bias.shape[0] === N && bias.offset === 0 && bias.isContiguous;
}

/**
 * Matrix product with torch.matmul's rules: 1-D operands act as a row / column vector, leading
 * (batch) dims broadcast. Transposed views are read in place (a.matmul(b.T) copies nothing).
 *
 * @example
 * matmul(tensor([[1, 2]]), tensor([[3], [4]])); // [[11]]
 * matmul(randn([8, 2, 3]), randn([3, 5])).shape; // [8, 2, 5]
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  a.assertAlive('matmul');
  b.assertAlive('matmul');
  if (a.ndim === 0 || b.ndim === 0)
    throw new Error(`matmul: both operands need at least 1 dim (got ${fmt(a.shape)} and ${fmt(b.shape)}); use mul for scalars`);
  const a2 = a.ndim === 1 ? unsqueeze(a, 0) : a;
  const b2 = b.ndim === 1 ? unsqueeze(b, 1) : b;
  const K = a2.shape[a2.ndim - 1];
  if (b2.shape[b2.ndim - 2] !== K) {
    throw new Error(
      `matmul: shapes ${fmt(a.shape)} and ${fmt(b.shape)} are not aligned: ${K} (last dim of the first) != ${b2.shape[b2.ndim - 2]} (${b.ndim === 1 ? 'only' : 'second-to-last'} dim of the second)`,
    );
  }
  const [ba, bb] = [a2.shape.slice(0, -2), b2.shape.slice(0, -2)];
  for (let i = 1; i <= Math.min(ba.length, bb.length); i++) {
    const [da, db] = [ba[ba.length - i], bb[bb.length - i]];
    if (da !== db && da !== 1 && db !== 1)
      throw new Error(
        `matmul: shapes ${fmt(a.shape)} and ${fmt(b.shape)}: batch dims ${fmt(ba)} and ${fmt(bb)} cannot be broadcast together`,
      );
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
