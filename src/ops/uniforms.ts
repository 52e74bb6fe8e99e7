// Packs kernel parameters into the byte layout of a WGSL uniform struct. Fields are written in
// declaration order; `dims8` writes an array<vec4<u32>, 2> (8 dims, padded) at 16-byte alignment.

export class Uniforms {
  private view = new DataView(new ArrayBuffer(256));
  private off = 0;

  private align(n: number): void {
    this.off = Math.ceil(this.off / n) * n;
  }
  u32(v: number): this {
    this.view.setUint32(this.off, v >>> 0, true);
    this.off += 4;
    return this;
  }
  i32(v: number): this {
    this.view.setInt32(this.off, v, true);
    this.off += 4;
    return this;
  }
  f32(v: number): this {
    this.view.setFloat32(this.off, v, true);
    this.off += 4;
    return this;
  }
  /** Up to 8 unsigned values as array<vec4<u32>, 2>, padded with `pad`. */
  dims8(values: readonly number[], pad = 0): this {
    if (values.length > 8) throw new Error(`wgrad internal: ${values.length} dims exceed 8`);
    this.align(16);
    for (let i = 0; i < 8; i++) this.u32(i < values.length ? values[i] : pad);
    return this;
  }
  vec4u(values: readonly number[]): this {
    this.align(16);
    for (let i = 0; i < 4; i++) this.u32(values[i] ?? 0);
    return this;
  }
  get bytes(): ArrayBuffer {
    return this.view.buffer.slice(0, Math.max(16, Math.ceil(this.off / 16) * 16));
  }
}

/**
 * WGSL that decodes the row-major index `idx` of a `rank`-dim shape into coordinates, innermost
 * dimension first, and hands each to `add(coord, d)` (which emits the statements that use it).
 * Dimension d of a dims8 / vec4 array `a` is `a[d >> 2][d & 3]`: `dim(d)` gives the shape's. The
 * code is unrolled with constant indices (lavapipe loads uniforms indexed by a loop counter lane
 * by lane, 3–4× slower), with one integer division per dimension and none for the outermost,
 * whose coordinate is what is left (idx < numel). Used by elementwise.wgsl and reduce.wgsl.
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

/** Splits `groups` workgroups over x and y so neither exceeds the 65535 limit. */
export function grid(groups: number): [number, number] {
  if (groups <= 65535) return [groups, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}
