// A kernel's uniform struct, declared once by name. The TypeScript side packs values by field
// name (no positional lists to keep in step with the WGSL), and the device checks the layout
// against the `struct` the compiled WGSL declares for its uniform the first time it compiles the
// kernel, so a field added, dropped or reordered on one side only fails at once, by name.

/** WGSL types a uniform field may have: 4-byte scalars, vec4s and arrays of vec4s. */
export type UniformType =
  'u32' | 'i32' | 'f32' | 'vec4<u32>' | 'vec4<i32>' | 'vec4<f32>' | `array<vec4<${'u32' | 'i32' | 'f32'}>, ${number}>`;

interface Field {
  name: string;
  type: UniformType;
  scalar: 'u32' | 'i32' | 'f32';
  /** Byte offset in the struct (WGSL uniform layout: 4-byte scalars, 16-byte vec4s). */
  offset: number;
  /** 1 for a scalar, else the number of 4-byte components. */
  count: number;
}

/** Values for a layout's fields: a number per scalar, up to `count` numbers per vec4/array (rest padded with 0). */
export type UniformValues<F extends string> = { readonly [K in F]: number | readonly number[] };

/** Bytes packed by a layout: what `device.dispatch` takes as `uniforms`, with the layout to check. */
export class PackedUniforms {
  constructor(
    readonly layout: UniformLayout,
    readonly bytes: ArrayBuffer,
  ) {}
}

const parseType = (type: string): { scalar: 'u32' | 'i32' | 'f32'; count: number; vector: boolean } => {
  const m = /^(?:(u32|i32|f32)|vec4<(u32|i32|f32)>|array<vec4<(u32|i32|f32)>,\s*(\d+)>)$/.exec(type);
  if (!m) throw new Error(`wgrad internal: uniform field type '${type}' is not a 4-byte scalar, vec4 or array of vec4`);
  if (m[1]) return { scalar: m[1] as 'u32', count: 1, vector: false };
  if (m[2]) return { scalar: m[2] as 'u32', count: 4, vector: true };
  return { scalar: m[3] as 'u32', count: 4 * Number(m[4]), vector: true };
};

/**
 * The uniform struct (named `Params` in every wgrad kernel) of the kernels named in `kernels`:
 * fields in declaration order with their WGSL types. `pack` writes values by name (what
 * `dispatch` takes as `uniforms`); the device checks the layout against the kernel's WGSL struct
 * when it compiles the kernel. `wgsl()` gives the struct declaration for kernels generated in
 * TypeScript. examples/custom_op.ts uses one for a kernel of its own.
 *
 * @example
 * const layout = new UniformLayout(['my_kernel'], { n: 'u32', offset: 'u32', scale: 'f32', dims: 'vec4<u32>' });
 * const struct = layout.wgsl(); // 'struct Params {\n  n: u32, …' for a kernel written in TypeScript
 * // A vec4 starts on a 16-byte boundary: dims takes bytes 16–31, so the struct is 32 bytes.
 * layout.pack({ n: 10, offset: 0, scale: 0.5, dims: [2, 5] }).bytes.byteLength // 32
 */
export class UniformLayout<F extends string = string> {
  readonly fields: readonly Field[];
  /** Struct size in bytes (a multiple of 16, as WGSL rounds a uniform struct). */
  readonly size: number;

  constructor(
    readonly kernels: readonly string[],
    spec: { readonly [K in F]: UniformType },
  ) {
    let offset = 0;
    const fields: Field[] = [];
    for (const [name, type] of Object.entries(spec) as [string, UniformType][]) {
      const { scalar, count, vector } = parseType(type);
      if (vector) offset = Math.ceil(offset / 16) * 16;
      fields.push({ name, type, scalar, offset, count });
      offset += 4 * count;
    }
    this.fields = fields;
    this.size = Math.max(16, Math.ceil(offset / 16) * 16);
    for (const k of kernels) {
      const list = registry.get(k) ?? [];
      registry.set(k, [...list, this as UniformLayout]);
    }
  }

  /** `struct <name> { field: type, … }` as WGSL. */
  wgsl(name = 'Params'): string {
    return `struct ${name} {\n${this.fields.map((f) => `  ${f.name}: ${f.type},`).join('\n')}\n}`;
  }

  /** Packs one value per field (every field, no others); numbers must fit the field's type. */
  pack(values: UniformValues<F>): PackedUniforms {
    const where = `uniforms of ${this.kernels.join('/')}`;
    const view = new DataView(new ArrayBuffer(this.size));
    let given = 0;
    for (const f of this.fields) {
      const v = (values as Record<string, number | readonly number[]>)[f.name];
      if (v === undefined) throw new Error(`wgrad internal: ${where}: no value for field '${f.name}'`);
      given++;
      const list = typeof v === 'number' ? [v] : v;
      if ((typeof v === 'number') !== (f.count === 1) || list.length > f.count) {
        throw new Error(
          `wgrad internal: ${where}: field '${f.name}: ${f.type}' takes ${f.count === 1 ? 'a number' : `up to ${f.count} numbers`}, got ${JSON.stringify(v)}`,
        );
      }
      for (let i = 0; i < list.length; i++) write(view, f, f.offset + 4 * i, list[i], where);
    }
    if (Object.keys(values).length !== given) {
      const extra = Object.keys(values).filter((k) => !this.fields.some((f) => f.name === k));
      throw new Error(`wgrad internal: ${where}: no field named ${extra.map((k) => `'${k}'`).join(', ')}`);
    }
    return new PackedUniforms(this as UniformLayout, view.buffer);
  }

  /**
   * Compares this layout with the uniform struct that WGSL `code` declares (the type of its
   * `var<uniform>`): null when they agree field by field, else what differs.
   */
  mismatch(code: string): string | null {
    const declared = uniformStruct(code);
    if (!declared) return 'the kernel declares no var<uniform> of a struct type';
    const want = this.fields.map((f) => `${f.name}: ${f.type}`);
    const got = declared.map((f) => `${f.name}: ${f.type}`);
    for (let i = 0; i < Math.max(want.length, got.length); i++) {
      if (want[i] !== got[i]) return `field ${i}: the layout has ${want[i] ?? 'nothing'}, the WGSL struct ${got[i] ?? 'nothing'}`;
    }
    return null;
  }
}

function write(view: DataView, f: Field, at: number, v: number, where: string): void {
  const ok = f.scalar === 'f32' || (Number.isInteger(v) && (f.scalar === 'u32' ? v >= 0 && v < 2 ** 32 : v >= -(2 ** 31) && v < 2 ** 31));
  if (!ok) throw new Error(`wgrad internal: ${where}: field '${f.name}' is ${f.scalar}, got ${v}`);
  if (f.scalar === 'u32') view.setUint32(at, v, true);
  else if (f.scalar === 'i32') view.setInt32(at, v, true);
  else view.setFloat32(at, v, true);
}

/** The fields of the struct a WGSL module uses as its `var<uniform>` type, or null. */
export function uniformStruct(code: string): { name: string; type: string }[] | null {
  const text = code.replace(/\/\/[^\n]*/g, '').replace(/\/\*[\s\S]*?\*\//g, '');
  const typeName = /var<uniform>\s+\w+\s*:\s*(\w+)\s*;/.exec(text)?.[1];
  if (!typeName) return null;
  const body = new RegExp(`struct\\s+${typeName}\\s*\\{([^}]*)\\}`).exec(text)?.[1];
  if (body === undefined) return null;
  // Split on the commas between fields, not those inside array<…, N>.
  const fields: { name: string; type: string }[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i <= body.length; i++) {
    const c = body[i];
    if (c === '<') depth++;
    else if (c === '>') depth--;
    else if ((c === ',' && depth === 0) || i === body.length) {
      const part = body.slice(start, i).trim();
      start = i + 1;
      if (!part) continue;
      const m = /^(\w+)\s*:\s*([\s\S]+)$/.exec(part);
      if (!m) throw new Error(`wgrad internal: cannot read uniform struct field '${part}'`);
      fields.push({ name: m[1], type: m[2].replace(/\s+/g, '').replace(/,/g, ', ') });
    }
  }
  return fields;
}

const registry = new Map<string, UniformLayout[]>();

/** Every layout made so far, by kernel name (a templated kernel can have one per configuration); for tests. */
export const uniformLayouts = (): ReadonlyMap<string, readonly UniformLayout[]> => registry;

/**
 * The bytes of a dispatch's uniforms (a layout's packing or plain bytes from a user kernel). Tested
 * as ArrayBuffer, not PackedUniforms: a program that loads this module twice (a CommonJS and an
 * ES copy) has two PackedUniforms classes but one ArrayBuffer.
 */
export const uniformBytes = (u: ArrayBuffer | PackedUniforms): ArrayBuffer => (u instanceof ArrayBuffer ? u : u.bytes);
