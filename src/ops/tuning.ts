// Adapter policy in one place: which kernel variant and tile sizes each kind of adapter gets.
// The tuning objects are 0 / unset for "choose per adapter"; tests and bench/gpu/gpu.ts force
// variants through them.

import type { DeviceInfo } from '../device/device.ts';

/**
 * Whether the adapter has subgroups of at least 8 lanes (subgroupMinSize 0 = not reported): what
 * the kernels that share loads across 8 lanes (conv's shared loads, the matmul_vec4 kernel) need.
 */
export function hasSubgroupsOf8(info: Pick<DeviceInfo, 'features' | 'subgroupMinSize'>): boolean {
  return info.features.includes('subgroups') && (info.subgroupMinSize === 0 || info.subgroupMinSize >= 8);
}

/**
 * Variants of the discrete-GPU kernel kernels/matmul_tiled.wgsl, for benchmarks on a GPU: 'db4'
 * loads vec4s from global memory where the operands' layout allows (else it runs as 'db'), 'db'
 * loads scalars through any strides; bk 0 = the default k tile (8 for 128×128 tiles, 16 for
 * 64×64: bk 16 is much slower at 4096², bench/RESULTS.md "Matmul kernels"); tile 0 = 128×128 where M and N are
 * ≥ 128, else 64×64 — 64 forces the smaller tiles (bench/gpu/gpu.ts measures them at 1024–2048²,
 * where 128×128 tiles leave part of a large GPU idle).
 */
export const matmulTuning: { tiled: 'db4' | 'db'; bk: number; tile: 0 | 64 } = { tiled: 'db4', bk: 0, tile: 0 };

/**
 * Register-tile sizes (0 = per adapter). Forward / input gradient: ct output channels × th rows ×
 * 4 columns per thread (ct ≤ 16), software adapters 16 × 4 (8 × 4 without shared loads), others
 * 4 × 2. Weight gradient: wgradCt output × wgradCi input channels, software 8 × 1 (8 × 2 without
 * shared loads), others 4 × 2. Bigger tiles mean fewer loads per FMA (what lavapipe needs) but
 * more registers and longer shader compiles. The defaults are the fastest measured per adapter
 * kind (bench/RESULTS.md, "Wider conv tiles on lavapipe"): the weight gradient's 8 × 1 keeps
 * half the accumulators of 8 × 2 while gy is still shared; without shared loads (Dawn's OpenGLES
 * backend has no subgroups) the smaller tiles win.
 * wgradThreads: how many threads the weight gradient aims for by splitting its reduction into
 * chunks (0 = per adapter: 4096 software, 32768 others; bench/gpu/gpu.ts sweeps it on a GPU).
 * Tests force several tilings.
 * shareLoads (default: on software adapters with subgroups): what every lane of a subgroup would
 * load alike (the forward's and input gradient's weights, the weight gradient's output gradient)
 * is loaded once per 8-lane subgroup and broadcast.
 */
export const convTuning: { ct: number; th: number; wgradCt: number; wgradCi: number; wgradThreads: number; shareLoads?: boolean } = {
  ct: 0,
  th: 0,
  wgradCt: 0,
  wgradCi: 0,
  wgradThreads: 0,
};

/**
 * Whether to share loads by subgroupBroadcast: convTuning.shareLoads if set, else on lavapipe
 * (which loads lane by lane) when it has subgroups of at least 8 lanes.
 */
export function shareLoads(info: Pick<DeviceInfo, 'family' | 'features' | 'subgroupMinSize'>): boolean {
  const forced = convTuning.shareLoads;
  if (forced && !info.features.includes('subgroups')) {
    throw new Error(
      "conv2d: convTuning.shareLoads = true needs the adapter's 'subgroups' feature, which this adapter lacks; leave it undefined to choose per adapter",
    );
  }
  return forced ?? (info.family === 'software' && hasSubgroupsOf8(info));
}

/**
 * conv2d's tile sizes on this adapter: convTuning's where set, else the defaults it describes.
 * ct, wgradCt and wgradCi are upper bounds (the generators take the largest that divides the channels).
 */
export function convTiles(info: Pick<DeviceInfo, 'family' | 'features' | 'subgroupMinSize'>) {
  const software = info.family === 'software';
  const share = shareLoads(info);
  return {
    share,
    ct: convTuning.ct || (software ? (share ? 16 : 8) : 4),
    th: convTuning.th || (software ? 4 : 2),
    wgradCt: convTuning.wgradCt || (software ? 8 : 4),
    wgradCi: convTuning.wgradCi || (software && share ? 1 : 2),
    wgradThreads: convTuning.wgradThreads || (software ? 4096 : 32768),
  };
}

/** `generic`: max pooling always on kernels/pool2d.wgsl (tests compare it with the vec4 kernel). */
export const poolTuning = { generic: false };
