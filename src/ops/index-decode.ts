// WGSL index arithmetic shared by the generated elementwise and reduction kernels.

/**
 * WGSL that decodes the row-major index `idx` of a `rank`-dim shape into coordinates, innermost
 * dimension first, and hands each to `add(coord, d)` (which emits the statements that use it).
 * Dimension d of a dims8 / vec4 array `a` is `a[d >> 2][d & 3]`: `dim(d)` gives the shape's. The
 * code is unrolled with constant indices (lavapipe loads uniforms indexed by a loop counter lane
 * by lane, 3–4× slower), with one integer division per dimension and none for the outermost,
 * whose coordinate is what is left (idx < numel). Used by the elementwise kernels
 * (src/ops/codegen/elementwise.ts) and kernels/reduce.wgsl.
 */
export function decodeIndex(idx: string, rank: number, dim: (d: number) => string, add: (coord: string, d: number) => string): string {
  if (rank === 0) return '';
  if (rank === 1) return add(idx, 0);
  const rem = `rem_${idx}`;
  const lines = [`var ${rem} = ${idx};`];
  for (let d = rank - 1; d >= 1; d--) {
    lines.push(`{ let n = ${dim(d)}; let quo = ${rem} / n; let c = ${rem} - quo * n; ${rem} = quo; ${add('c', d)} }`);
  }
  lines.push(add(rem, 0));
  return lines.join('\n  ');
}
