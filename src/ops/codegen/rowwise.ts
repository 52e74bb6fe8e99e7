// rowwise, the kernel of the ops that normalise along one dimension (softmax, logSoftmax, L2
// normalize, layerNorm and their backward formulas), in one place: its WGSL skeleton, its uniform
// layout and `rowwise`, which fills the skeleton's holes with an op's RowKernel and dispatches it.
// The ops keep their formulas (softmax.ts, norm.ts, attention.ts); this file is shared by them.

import { Tensor } from '../../tensor.ts';
import { fmt, numel, padRank, stridesOf } from '../../shape.ts';
import { UniformLayout } from '../../device/uniform-layout.ts';
import { registerKernelSource } from '../../device/kernel-sources.ts';
import { grid } from '../grid.ts';

const WG = 64;

/** rowwise's uniforms. */
const rowwiseLayout = new UniformLayout(['rowwise'], {
  kshape: 'array<vec4<u32>, 2>', // shape of the kept dims (the rows), row-major
  ka: 'array<vec4<u32>, 2>', // strides of a over the kept dims
  kb: 'array<vec4<u32>, 2>', // strides of b
  ko: 'array<vec4<u32>, 2>', // strides of the output
  offsets: 'vec4<u32>', // element offsets of a, b, out
  dstrides: 'vec4<u32>', // strides along dim of a, b, out
  len: 'u32', // row length (size of dim)
  rows: 'u32',
  krank: 'u32',
  eps: 'f32',
});

const SKELETON = `// rowwise — ops that normalise along one dimension ("rows": the lines of elements that share
// every index except the one along dim): softmax, logSoftmax, L2 normalize, and their backward
// formulas. One thread per row: a first pass over the row accumulates its statistics (running
// max and sum of exponentials, a dot product, a sum of squares), a second pass writes every
// element of the row from them.
//
// Layout: inputs a and b (b is optional: the backward passes read a = saved output or input, b =
// incoming gradient) and the output are strided views; the host gives the strides of the other
// ("kept") dims and the stride along dim for each. Barrier-free, so it suits software adapters
// (lavapipe) as well as GPUs; rows of any length; one pipeline per op (shapes are uniforms).
//
// Template parameters (filled by rowwise() in src/ops/codegen/rowwise.ts from an op's RowKernel):
//   LOAD_B  a statement that defines \`b\` (the element of input b), or empty
//   INIT    declares and initialises the row statistics (may read the first element, first_a)
//   STEP    updates them with the element \`a\` (and \`b\`)
//   WRITE   the f32 value written for element \`a\` (and \`b\`), from the statistics and p.eps

${rowwiseLayout.wgsl()}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.x + gid.y * nwg.x * ${WG}u;
  if (row >= p.rows) { return; }
  var rem = row;
  var base = p.offsets.xyz;
  for (var d = i32(p.krank) - 1; d >= 0; d--) {
    let q = u32(d) >> 2u;
    let r = u32(d) & 3u;
    let n = p.kshape[q][r];
    let c = rem % n;
    rem = rem / n;
    base += c * vec3<u32>(p.ka[q][r], p.kb[q][r], p.ko[q][r]);
  }
  let first_a = A[base.x];
  {{INIT}}
  for (var j = 0u; j < p.len; j++) {
    let a = A[base.x + j * p.dstrides.x];
    {{LOAD_B}}
    {{STEP}}
  }
  for (var j = 0u; j < p.len; j++) {
    let a = A[base.x + j * p.dstrides.x];
    {{LOAD_B}}
    out[base.z + j * p.dstrides.z] = {{WRITE}};
  }
}
`;
registerKernelSource('rowwise', SKELETON);

/** The statistics and formula of one row op: the INIT, STEP and WRITE holes of the skeleton above. */
export interface RowKernel {
  INIT: string;
  STEP: string;
  WRITE: string;
}

/**
 * out (contiguous, a's shape) = the row op `k` along `dim` of a (and b, a same-shaped tensor
 * the formula reads as `b`). No autograd.
 */
export function rowwise(label: string, k: RowKernel, dim: number, a: Tensor, b: Tensor | null = null, eps = 0): Tensor {
  a.assertAlive(label);
  b?.assertAlive(label);
  if (b && fmt(b.shape) !== fmt(a.shape)) throw new Error(`wgrad internal: ${label}: shapes ${fmt(a.shape)} and ${fmt(b.shape)} differ`);
  const out = Tensor.empty(a.shape, a.device);
  const len = a.shape[dim] ?? 1;
  const rows = len === 0 ? 0 : numel(a.shape) / len;
  if (rows === 0) return out;
  const kept = a.shape.map((_, i) => i).filter((i) => i !== dim);
  const os = stridesOf(a.shape);
  const pick = (s: readonly number[]) => kept.map((i) => s[i]);
  const along = (s: readonly number[]) => (a.ndim === 0 ? 0 : s[dim]);
  const bb = b ?? a;
  const u = rowwiseLayout.pack({
    kshape: padRank(kept.map((i) => a.shape[i])),
    ka: pick(a.strides),
    kb: pick(bb.strides),
    ko: pick(os),
    offsets: [a.offset, bb.offset],
    dstrides: [along(a.strides), along(bb.strides), along(os)],
    len,
    rows,
    krank: kept.length,
    eps,
  });
  a.device.dispatch({
    kernel: 'rowwise',
    params: { ...k, LOAD_B: b ? 'let b = B[base.y + j * p.dstrides.y];' : '' },
    buffers: [a.storage.buffer, bb.storage.buffer, out.storage.buffer],
    access: 'rrw',
    uniforms: u,
    workgroups: grid(Math.ceil(rows / WG)),
    label,
  });
  return out;
}
