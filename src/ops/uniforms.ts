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
