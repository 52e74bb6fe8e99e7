/**
 * IDX files (the MNIST / Fashion-MNIST container), bytes in, arrays out.
 *
 * src/data/ holds the dataset readers. Every file here except node-files.ts is pure: it
 * imports nothing from Node, so browsers can use it on bytes from fetch(). Reading files and
 * gunzipping live in node-files.ts.
 *
 * Layout: 2 zero bytes, a type byte (0x08 = unsigned byte, the only one MNIST uses), a byte
 * with the number of dimensions, then one big-endian uint32 per dimension, then the data,
 * row-major. So images are magic 0x00000803 with dims [N, rows, cols] and labels are magic
 * 0x00000801 with dims [N].
 */

/** A parsed IDX file: its dimensions and its uint8 values, row-major. */
export interface IdxArray {
  dims: number[];
  /** Row-major values, a view into the input bytes (no copy). */
  data: Uint8Array;
}

const UBYTE = 0x08;
const TYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'short',
  0x0c: 'int',
  0x0d: 'float',
  0x0e: 'double',
};

const hex = (n: number, width = 2) => '0x' + n.toString(16).padStart(width, '0');

/**
 * Parses an (uncompressed) IDX file (MNIST's format). `source` names the file in error messages.
 * @example
 * const { dims, data } = parseIdx(encodeIdx([2, 3], new Uint8Array([1, 2, 3, 4, 5, 6])));
 * console.log(dims, data.length); // [2, 3] 6
 */
export function parseIdx(bytes: Uint8Array, source = 'IDX data'): IdxArray {
  if (bytes.length < 4) {
    throw new Error(`${source}: truncated IDX file: expected at least 4 header bytes, got ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[3] === 0) {
    const hint = bytes[0] === 0x1f && bytes[1] === 0x8b ? ' (this is gzip data: gunzip it first)' : '';
    throw new Error(`${source}: bad IDX magic ${hex(magic, 8)}; expected 0x00000803 (images) or 0x00000801 (labels)${hint}`);
  }
  const type = bytes[2];
  if (type !== UBYTE) {
    const name = TYPE_NAMES[type] ?? 'unknown type';
    throw new Error(`${source}: unsupported IDX element type ${hex(type)} (${name}); only ${hex(UBYTE)} (unsigned byte) is supported`);
  }
  const rank = bytes[3];
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    throw new Error(`${source}: truncated IDX file: expected ${headerBytes} header bytes for ${rank} dims, got ${bytes.length}`);
  }
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i));
  const dataBytes = dims.reduce((a, b) => a * b, 1);
  const expected = headerBytes + dataBytes;
  if (bytes.length !== expected) {
    const what = bytes.length < expected ? 'truncated IDX file' : 'IDX file has trailing bytes';
    throw new Error(
      `${source}: ${what}: dims [${dims.join(', ')}] need ${expected} bytes ` +
        `(${headerBytes} header + ${dataBytes} data), got ${bytes.length}`,
    );
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

/** Builds an unsigned-byte IDX file: the inverse of parseIdx (for tests and exporting subsets). @example const bytes = encodeIdx([2], new Uint8Array([7, 9])); // 4-byte magic, 4-byte size, 2 values */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  const size = dims.reduce((a, b) => a * b, 1);
  if (data.length !== size) {
    throw new Error(`encodeIdx: dims [${dims.join(', ')}] hold ${size} values, data has ${data.length}`);
  }
  if (dims.length === 0 || dims.length > 255) throw new Error(`encodeIdx: need 1..255 dims, got ${dims.length}`);
  const header = 4 + 4 * dims.length;
  const out = new Uint8Array(header + size);
  const view = new DataView(out.buffer);
  view.setUint32(0, (UBYTE << 8) | dims.length);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(data, header);
  return out;
}
