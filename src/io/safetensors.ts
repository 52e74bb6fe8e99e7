/**
 * safetensors encode/decode — the checkpoint format PyTorch users read with
 * `safetensors.torch.load_file`.
 *
 * Layout (https://github.com/huggingface/safetensors):
 *
 *   [8 bytes]  N, little-endian u64: length of the JSON header
 *   [N bytes]  UTF-8 JSON: { "__metadata__"?: {string: string},
 *                            name: { "dtype", "shape", "data_offsets": [begin, end] }, ... }
 *              must start with '{'; may be padded with trailing spaces
 *   [rest]     raw little-endian tensor bytes; offsets are relative to here
 *
 * The writer mirrors the reference one: compact JSON, `__metadata__` first,
 * tensors sorted by name and packed back to back, header padded with spaces
 * to a multiple of 8 so the data section starts 8-byte aligned. The output is
 * a pure function of the input (byte-for-byte deterministic).
 *
 * The reader validates everything before touching the data: header length
 * within the file, valid UTF-8/JSON, every entry well formed, sizes matching
 * shapes, and offsets that tile the data section exactly (no gaps, overlaps
 * or trailing bytes), as the reference reader does. Tensor data is copied
 * out, so the input may be any Uint8Array view at any alignment.
 *
 * Writes F32 and I32; reads F32, I32, and F16 / BF16 (widened to float32 on load, as PyTorch
 * checkpoints saved in half precision are). Pure TypeScript, no Node imports: this file
 * also runs in browsers. File helpers live in `node-files.ts`.
 */

/** A tensor to write: row-major data (float32 → F32, int32 → I32) and its shape. */
export interface TensorData {
  data: Float32Array | Int32Array;
  shape: readonly number[];
}

/** The dtypes this module reads (F16 and BF16 are widened to float32; only F32 and I32 are written). */
export type SafetensorsDtype = 'F32' | 'I32' | 'F16' | 'BF16';

/** A tensor read back from a file: `dtype` is the file's, `data` an Int32Array for I32, else float32. */
export interface DecodedTensor {
  data: Float32Array | Int32Array;
  shape: number[];
  dtype: SafetensorsDtype;
}

export interface DecodedSafetensors {
  tensors: Record<string, DecodedTensor>;
  metadata: Record<string, string>;
}

/** Bytes per element of each dtype read. */
const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = { F32: 4, I32: 4, F16: 2, BF16: 2 };
const SUPPORTED_DTYPES: readonly string[] = Object.keys(DTYPE_BYTES);
const F32_BYTES = 4;
/** The reference implementation refuses headers above 100 MB; so do we. */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

// ---------------------------------------------------------------- encode

/**
 * Serialize float32 tensors (and optional string metadata) to safetensors bytes.
 * Throws if a name is empty or reserved, a shape is not a list of
 * non-negative integers, a data length does not match its shape, or a
 * metadata value is not a string.
 */
export function encodeSafetensors(tensors: Record<string, TensorData>, metadata?: Record<string, string>): Uint8Array {
  if (tensors === null || typeof tensors !== 'object') {
    throw new Error(`encodeSafetensors: tensors must be an object of { data, shape }, got ${describe(tensors)}`);
  }
  const names = Object.keys(tensors).sort(compareCodePoints);

  // Header JSON is assembled by hand: a JS object would reorder integer-like
  // keys ("0", "1", ...) ahead of the others and break the sorted order.
  const parts: string[] = [];
  if (metadata !== undefined) {
    const metaJson = encodeMetadata(metadata);
    if (metaJson !== '{}') parts.push(`${JSON.stringify(METADATA_KEY)}:${metaJson}`);
  }

  let offset = 0;
  const placed: { data: Float32Array | Int32Array; begin: number }[] = [];
  for (const name of names) {
    const t = tensors[name];
    const shape = checkTensor(name, t);
    const end = offset + t.data.length * F32_BYTES;
    parts.push(
      `${JSON.stringify(name)}:{"dtype":"${t.data instanceof Int32Array ? 'I32' : 'F32'}","shape":${JSON.stringify(shape)},"data_offsets":[${offset},${end}]}`,
    );
    placed.push({ data: t.data, begin: offset });
    offset = end;
  }

  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLen = Math.ceil(json.length / 8) * 8;
  if (headerLen > MAX_HEADER_BYTES) {
    throw new Error(`encodeSafetensors: header would be ${headerLen} bytes, above the ${MAX_HEADER_BYTES}-byte limit readers enforce`);
  }

  const out = new Uint8Array(8 + headerLen + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen); // space padding
  const dataStart = 8 + headerLen;
  for (const { data, begin } of placed) writeF32(out, view, dataStart + begin, data);
  return out;
}

function checkTensor(name: string, t: TensorData): number[] {
  if (name === '') throw new Error('encodeSafetensors: tensor names must be non-empty');
  if (name === METADATA_KEY) {
    throw new Error(`encodeSafetensors: "${METADATA_KEY}" is reserved for metadata and cannot name a tensor`);
  }
  if (t === null || typeof t !== 'object') {
    throw new Error(`encodeSafetensors: tensor "${name}" must be { data: Float32Array | Int32Array, shape }, got ${describe(t)}`);
  }
  if (!(t.data instanceof Float32Array) && !(t.data instanceof Int32Array)) {
    throw new Error(
      `encodeSafetensors: tensor "${name}" data must be a Float32Array (F32) or an Int32Array (I32), got ${describe(t.data)}`,
    );
  }
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Error(`encodeSafetensors: tensor "${name}" shape must be an array of non-negative integers, got ${describe(t.shape)}`);
  }
  const shape = [...t.shape];
  const numel = shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== numel) {
    throw new Error(
      `encodeSafetensors: tensor "${name}" has shape [${shape.join(', ')}] (${numel} elements) but its data has ${t.data.length} elements`,
    );
  }
  return shape;
}

function encodeMetadata(metadata: Record<string, string>): string {
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw new Error(`encodeSafetensors: metadata must be an object of string values, got ${describe(metadata)}`);
  }
  const entries: string[] = [];
  for (const key of Object.keys(metadata).sort(compareCodePoints)) {
    const value: unknown = metadata[key];
    if (typeof value !== 'string') {
      throw new Error(
        `encodeSafetensors: metadata["${key}"] must be a string, got ${describe(value)} (safetensors metadata is string → string)`,
      );
    }
    entries.push(`${JSON.stringify(key)}:${JSON.stringify(value)}`);
  }
  return `{${entries.join(',')}}`;
}

function writeF32(out: Uint8Array, view: DataView, at: number, data: Float32Array | Int32Array): void {
  if (LITTLE_ENDIAN_HOST) {
    // Byte copy keeps every bit, NaN payloads included.
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
  } else if (data instanceof Int32Array) {
    for (let i = 0; i < data.length; i++) view.setInt32(at + i * F32_BYTES, data[i], true);
  } else {
    for (let i = 0; i < data.length; i++) view.setFloat32(at + i * F32_BYTES, data[i], true);
  }
}

// ---------------------------------------------------------------- decode

/**
 * Parse safetensors bytes. Every tensor's data is copied into a fresh
 * Float32Array (F32; F16 and BF16 widened exactly) or Int32Array (I32).
 * Throws a descriptive Error if the file is truncated or corrupt, or holds
 * another dtype.
 */
export function decodeSafetensors(bytes: Uint8Array): DecodedSafetensors {
  if (!(bytes instanceof Uint8Array)) {
    throw new Error(`decodeSafetensors: expected a Uint8Array, got ${describe(bytes)}`);
  }
  if (bytes.length < 8) {
    corrupt(`expected at least 8 bytes for the header length, found ${bytes.length} bytes in total`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLenBig = view.getBigUint64(0, true);
  if (headerLenBig > BigInt(bytes.length - 8)) {
    corrupt(`header length field says ${headerLenBig} bytes, but only ${bytes.length - 8} bytes follow it`);
  }
  const headerLen = Number(headerLenBig);
  if (headerLen > MAX_HEADER_BYTES) {
    corrupt(`header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  if (headerLen === 0) corrupt(`expected a JSON header, found a header length of 0`);
  if (bytes[8] !== 0x7b /* '{' */) {
    corrupt(`expected the JSON header to start with '{', found byte 0x${bytes[8].toString(16).padStart(2, '0')}`);
  }

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    corrupt(`the ${headerLen}-byte header is not valid UTF-8`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    corrupt(`the ${headerLen}-byte header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    corrupt(`expected the header to be a JSON object, found ${describe(header)}`);
  }

  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { name: string; shape: number[]; begin: number; end: number; dtype: SafetensorsDtype }[] = [];

  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      readMetadata(info, metadata);
      continue;
    }
    entries.push(readEntry(name, info, dataLen));
  }

  // Offsets must tile [0, dataLen) exactly, as the reference reader requires.
  const ordered = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let prev: string | null = null;
  for (const e of ordered) {
    if (e.begin < cursor) {
      corrupt(`tensor "${e.name}" data_offsets [${e.begin}, ${e.end}] overlap tensor "${prev}" which ends at ${cursor}`);
    }
    if (e.begin > cursor) {
      corrupt(
        `tensor "${e.name}" starts at data offset ${e.begin}, expected ${cursor} (${e.begin - cursor} bytes not covered by any tensor)`,
      );
    }
    cursor = e.end;
    prev = e.name;
  }
  if (cursor !== dataLen) {
    corrupt(`tensors cover ${cursor} bytes of data, but the data section has ${dataLen} bytes (${dataLen - cursor} trailing bytes)`);
  }

  const tensors: Record<string, DecodedTensor> = {};
  for (const e of entries) {
    const data = readData(e.dtype, bytes, view, dataStart + e.begin, (e.end - e.begin) / DTYPE_BYTES[e.dtype]);
    // defineProperty: a tensor literally named "__proto__" stays an own key.
    Object.defineProperty(tensors, e.name, {
      value: { data, shape: e.shape, dtype: e.dtype },
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return { tensors, metadata };
}

function readMetadata(info: unknown, into: Record<string, string>): void {
  if (info === null || typeof info !== 'object' || Array.isArray(info)) {
    corrupt(`expected "${METADATA_KEY}" to be an object of strings, found ${describe(info)}`);
  }
  for (const [key, value] of Object.entries(info as Record<string, unknown>)) {
    if (typeof value !== 'string') {
      corrupt(`expected ${METADATA_KEY}["${key}"] to be a string, found ${describe(value)}`);
    }
    Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
  }
}

function readEntry(
  name: string,
  info: unknown,
  dataLen: number,
): { name: string; shape: number[]; begin: number; end: number; dtype: SafetensorsDtype } {
  if (info === null || typeof info !== 'object' || Array.isArray(info)) {
    corrupt(`expected tensor "${name}" to be an object with dtype, shape and data_offsets, found ${describe(info)}`);
  }
  const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
  if (typeof dtype !== 'string') corrupt(`expected tensor "${name}" to have a string dtype, found ${describe(dtype)}`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    corrupt(`expected tensor "${name}" shape to be an array of non-negative integers, found ${describe(shape)}`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[0] > offsets[1]
  ) {
    corrupt(`expected tensor "${name}" data_offsets to be [begin, end] with 0 <= begin <= end, found ${describe(offsets)}`);
  }
  if (!SUPPORTED_DTYPES.includes(dtype)) {
    throw new Error(
      `safetensors: tensor "${name}" has dtype ${dtype}, which wgrad cannot read; supported dtypes: ${SUPPORTED_DTYPES.join(', ')}`,
    );
  }
  let numel = 1;
  for (const d of shape as number[]) numel *= d;
  const [begin, end] = offsets as number[];
  const size = DTYPE_BYTES[dtype as SafetensorsDtype];
  if (!Number.isSafeInteger(numel * size) || end - begin !== numel * size) {
    corrupt(
      `tensor "${name}" has shape [${(shape as number[]).join(', ')}] ${dtype}, so expected ${numel * size} bytes, ` +
        `but data_offsets [${begin}, ${end}] span ${end - begin} bytes`,
    );
  }
  if (end > dataLen) {
    corrupt(`tensor "${name}" data_offsets [${begin}, ${end}] run past the end of the data section, which has only ${dataLen} bytes`);
  }
  return { name, shape: [...(shape as number[])], begin, end, dtype: dtype as SafetensorsDtype };
}

function readData(dtype: SafetensorsDtype, bytes: Uint8Array, view: DataView, at: number, count: number): Float32Array | Int32Array {
  if (dtype === 'F32') return readF32(bytes, view, at, count);
  if (dtype === 'I32') {
    const out = new Int32Array(count);
    for (let i = 0; i < count; i++) out[i] = view.getInt32(at + i * 4, true);
    return out;
  }
  const out = new Float32Array(count);
  if (dtype === 'BF16') {
    // bfloat16 is the top half of a float32: widening is a shift.
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) bits[i] = view.getUint16(at + i * 2, true) << 16;
  } else {
    for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(at + i * 2, true));
  }
  return out;
}

/** IEEE 754 binary16 bits → number (exact: every half value is a float32). */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero and subnormals
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function readF32(bytes: Uint8Array, view: DataView, at: number, count: number): Float32Array {
  const out = new Float32Array(count);
  if (LITTLE_ENDIAN_HOST) {
    new Uint8Array(out.buffer).set(bytes.subarray(at, at + count * F32_BYTES));
  } else {
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(at + i * F32_BYTES, true);
  }
  return out;
}

// ---------------------------------------------------------------- helpers

function corrupt(detail: string): never {
  throw new Error(`safetensors: file looks truncated or corrupt: ${detail}`);
}

/** Order by Unicode code point, which equals UTF-8 byte order (the reference writer's order). */
function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const ca = ia.next();
    const cb = ib.next();
    if (ca.done || cb.done) return (ca.done ? 0 : 1) - (cb.done ? 0 : 1);
    const d = ca.value.codePointAt(0)! - cb.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as ArrayLike<number>).length})`;
  try {
    const s = JSON.stringify(v);
    return s.length > 80 ? `${s.slice(0, 77)}...` : s;
  } catch {
    return typeof v;
  }
}
