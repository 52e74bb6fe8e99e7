// How a matmul runs: the problem as the kernels see it (operands as batches of strided matrices),
// the uniform layout every matmul kernel shares (its WGSL struct is kernels/matmul_params.wgsl),
// the fused epilogue, and the launches of the generic and tiled kernels. The vec4 kernel for
// software adapters is generated, and lives in its own home, src/ops/codegen/matmul-vec4.ts;
// src/ops/matmul.ts chooses among them.

import type { Tensor } from '../tensor.ts';
import { numel } from '../shape.ts';
import { UniformLayout, type PackedUniforms } from '../device/uniform-layout.ts';
import type { Device } from '../device/device.ts';
import { matmulTuning } from './tuning.ts';

/** The matmul kernels (see src/ops/matmul.ts): forced with setMatmulKernel or WGRAD_MATMUL. */
export type MatmulKernel = 'generic' | 'vec4' | 'tiled';

/** One operand as a batch of [rows, cols] matrices: strides of its rows/cols and per batch dim. */
export interface Operand {
  buffer: GPUBuffer;
  offset: number;
  rs: number;
  cs: number;
  bstrides: number[];
}

/** A batched product C[b] = A[b]·B[b], A [M, K], B [K, N], batch dims merged (≤ 4). */
export interface Problem {
  M: number;
  N: number;
  K: number;
  bshape: number[];
  a: Operand;
  b: Operand;
}

/** What matmulRaw would run for given operands: the kernel, and its configuration or why not another. */
export interface MatmulPlan {
  kernel: MatmulKernel;
  /** e.g. 'vec4 rows=32 X_T swapped' or 'generic (K % 4 != 0)'. */
  detail: string;
}

/** A plan that can run: records the dispatch writing C (contiguous [batch, M, N]) into `out`. */
export interface Launch extends MatmulPlan {
  run: (dev: Device, out: GPUBuffer, label: string, epilogue?: Epilogue) => void;
}

/**
 * Work fused into the store of every output (linear's `x·Wᵀ + b → ReLU`): + bias[n] (a contiguous
 * [N] tensor at offset 0), then the activation.
 */
export interface Epilogue {
  bias?: Tensor | null;
  activation?: 'relu';
}

/** The struct of kernels/matmul_params.wgsl, which every matmul kernel includes. */
export const matmulLayout = new UniformLayout(['matmul', 'matmul_tiled', 'matmul_vec4'], {
  bshape: 'vec4<u32>',
  a_bstride: 'vec4<u32>',
  b_bstride: 'vec4<u32>',
  M: 'u32',
  N: 'u32',
  K: 'u32',
  brank: 'u32',
  a_offset: 'u32',
  b_offset: 'u32',
  sa_m: 'u32',
  sa_k: 'u32',
  sb_k: 'u32',
  sb_n: 'u32',
  sc_m: 'u32',
  sc_n: 'u32',
  c_bstride: 'u32',
});

/**
 * The {{EPILOGUE_DECL}} / {{EPILOGUE}} of kernels/matmul_epilogue.wgsl and the extra binding;
 * `along` = the kernel's coordinate that indexes the bias ('m' where vec4 computes Cᵀ).
 */
export function epilogueCode(
  e: Epilogue | undefined,
  along: 'm' | 'n' = 'n',
): { params: Record<string, string>; buffers: GPUBuffer[]; access: string } {
  let expr = 'v';
  if (e?.bias) expr = `v + bias[${along}]`;
  if (e?.activation === 'relu') expr = `max(${expr}, 0.0)`;
  return {
    params: { EPILOGUE_DECL: e?.bias ? '@group(0) @binding(4) var<storage, read> bias: array<f32>;' : '', EPILOGUE: expr },
    buffers: e?.bias ? [e.bias.storage.buffer] : [],
    access: e?.bias ? 'r' : '',
  };
}

/** Uniforms of the kernels that read A and B as they are (element units) and write C contiguous. */
function stridedUniforms({ M, N, K, a, b, bshape }: Problem): PackedUniforms {
  return matmulLayout.pack({
    bshape: bshape.length ? bshape : [1],
    a_bstride: a.bstrides,
    b_bstride: b.bstrides,
    M,
    N,
    K,
    brank: bshape.length,
    a_offset: a.offset,
    b_offset: b.offset,
    sa_m: a.rs,
    sa_k: a.cs,
    sb_k: b.rs,
    sb_n: b.cs,
    sc_m: N,
    sc_n: 1,
    c_bstride: M * N,
  });
}

// ---- generic (kernels/matmul.wgsl) ------------------------------------------------------------

const GENERIC_TILE = 32; // outputs per workgroup along M and N (8×8 threads × 4×4 each)

/** The fallback: any strides, any adapter; `why` says why no faster kernel runs. */
export function genericLaunch(p: Problem, why = ''): Launch {
  const { M, N, a, b, bshape } = p;
  const nb = numel(bshape);
  return {
    kernel: 'generic',
    detail: `generic${why ? ` (${why})` : ''}`,
    run: (dev, out, label, epilogue) => {
      const e = epilogueCode(epilogue);
      dev.dispatch({
        kernel: 'matmul',
        params: e.params,
        buffers: [a.buffer, b.buffer, out, ...e.buffers],
        access: 'rrw' + e.access,
        uniforms: stridedUniforms(p),
        workgroups: [Math.ceil(N / GENERIC_TILE), Math.ceil(M / GENERIC_TILE), nb],
        label,
      });
    },
  };
}

// ---- tiled (kernels/matmul_tiled.wgsl, discrete GPUs) -----------------------------------------

/** Whether an operand (a rows × cols matrix per batch entry) can be read as aligned vec4s along its contiguous axis. */
function vec4Readable(o: Operand, rows: number, cols: number): boolean {
  const aligned = o.offset % 4 === 0 && o.bstrides.every((s) => s % 4 === 0);
  if (o.cs === 1) return aligned && cols % 4 === 0 && o.rs % 4 === 0;
  if (o.rs === 1) return aligned && rows % 4 === 0 && o.cs % 4 === 0;
  return false;
}

/** The tiled kernel with matmulTuning's variant, or why it cannot run. */
export function tiledLaunch(p: Problem): Launch | string {
  const { M, N, K, bshape } = p;
  const big = M >= 128 && N >= 128 && matmulTuning.tile !== 64;
  const tile = big ? 128 : 64;
  const gx = Math.ceil(N / tile);
  const gy = Math.ceil(M / tile);
  if (gx > 65535 || gy > 65535) return 'too many tiles';
  const bk = matmulTuning.bk || (big ? 8 : 16);
  const R = big ? 2 : 1;
  // db4 stages one vec4 per thread and operand or more: needs tile·bk a multiple of 1024.
  const db4 = matmulTuning.tiled === 'db4' && (tile * bk) % 1024 === 0 && vec4Readable(p.a, M, K) && vec4Readable(p.b, K, N);
  return {
    kernel: 'tiled',
    detail: `tiled-${db4 ? 'db4' : 'db'} ${tile}x${tile} bk ${bk}`,
    run: (dev, out, label, epilogue) => {
      const e = epilogueCode(epilogue);
      dev.dispatch({
        kernel: 'matmul_tiled',
        params: { R, BK: bk, W: db4 ? 4 : 1, LOAD: db4 ? 'vec4<f32>' : 'f32', ...e.params },
        buffers: [p.a.buffer, p.b.buffer, out, ...e.buffers],
        access: 'rrw' + e.access,
        uniforms: stridedUniforms(p),
        workgroups: [gx, gy, numel(bshape)],
        label,
      });
    },
  };
}
