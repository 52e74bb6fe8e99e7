import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { skip } from '../skip.ts';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.ts';
import type { TensorData } from '../../src/io/safetensors.ts';
import { findPythonWithNumpy, findPythonWithTorch, runPython } from './python.ts';

// ---------------------------------------------------------------- helpers

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomTensor(shape: number[], rand: () => number): TensorData {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (rand() - 0.5) * 10;
  return { data, shape };
}

/** Float32 values with awkward bit patterns: NaN payloads, signaling NaN, -0, infinities, denormals. */
function specialValues(): Float32Array {
  const bits = new Uint32Array([
    0x7fc00000,
    0x7fc00001,
    0xffc12345,
    0x7f800001, // quiet NaN, NaN payloads, signaling NaN
    0x80000000,
    0x00000000,
    0x7f800000,
    0xff800000, // -0, +0, +inf, -inf
    0x00000001,
    0x807fffff,
    0x7f7fffff,
    0x3f800000, // denormals, max finite, 1
  ]);
  return new Float32Array(bits.buffer);
}

function hex(data: Float32Array | Int32Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex');
}

function sha256(data: Float32Array | Int32Array): string {
  return createHash('sha256')
    .update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    .digest('hex');
}

/** Build a file by hand: raw header text (not padded), explicit header length, data bytes. */
function craft(header: string | object, data: Uint8Array = new Uint8Array(0), headerLen?: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function f32(n: number, dtype = 'F32', shape: number[] = [n], begin = 0, end = begin + 4 * n): object {
  return { dtype, shape, data_offsets: [begin, end] };
}

function throwsCorrupt(fn: () => unknown, pattern?: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof Error, 'expected an Error to be thrown');
  const msg = (err as Error).message;
  assert.match(msg, /truncated or corrupt/);
  if (pattern) assert.match(msg, pattern);
}

function headerOf(bytes: Uint8Array): { len: number; text: string } {
  const len = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { len, text: new TextDecoder().decode(bytes.subarray(8, 8 + len)) };
}

// ---------------------------------------------------------------- round trip

test('round-trips shapes incl. rank 0 and zero-size dims, and metadata', () => {
  const rand = rng(1);
  const tensors: Record<string, TensorData> = {
    'layer.0.weight': randomTensor([3, 4], rand),
    'layer.0.bias': randomTensor([4], rand),
    scalar: randomTensor([], rand),
    empty1d: randomTensor([0], rand),
    empty3d: randomTensor([3, 0, 2], rand),
    ones: randomTensor([1, 1, 1, 5], rand),
    special: { data: specialValues(), shape: [3, 4] },
    '0': randomTensor([2], rand), // integer-like names must not reorder
    '10': randomTensor([1], rand),
    'wéight ✓ 𝄞': randomTensor([2, 2], rand),
  };
  const metadata = { format: 'pt', epoch: '12', note: 'ünïcödé 𝄞 "quoted" \\ \n' };
  const { tensors: out, metadata: meta } = decodeSafetensors(encodeSafetensors(tensors, metadata));
  assert.equal(Object.keys(out).sort(), Object.keys(tensors).sort());
  for (const [name, t] of Object.entries(tensors)) {
    assert.equal(out[name].shape, [...t.shape], name);
    assert.is(out[name].dtype, 'F32');
    assert.ok(out[name].data instanceof Float32Array);
    assert.is(hex(out[name].data), hex(t.data), `bits of ${name}`);
  }
  assert.equal(meta, metadata);
});

test('no metadata decodes as {}; empty tensor set is a valid file', () => {
  const bytes = encodeSafetensors({});
  assert.is(headerOf(bytes).text.trimEnd(), '{}');
  assert.equal(decodeSafetensors(bytes), { tensors: {}, metadata: {} });
  assert.equal(decodeSafetensors(encodeSafetensors({ a: { data: new Float32Array([1]), shape: [1] } })).metadata, {});
});

test('a tensor named "__proto__" stays a plain own key', () => {
  const tensors = JSON.parse('{"__proto__": 0}') as Record<string, TensorData>;
  tensors['__proto__'] = { data: new Float32Array([7]), shape: [1] };
  const out = decodeSafetensors(encodeSafetensors(tensors)).tensors;
  assert.ok(Object.prototype.hasOwnProperty.call(out, '__proto__'));
  assert.is(Object.getPrototypeOf(out), Object.prototype);
  assert.equal([...out['__proto__'].data], [7]);
});

test('exact bytes for a tiny known file', () => {
  const bytes = encodeSafetensors(
    { b: { data: new Float32Array([1, 2]), shape: [2] }, a: { data: new Float32Array([0.5]), shape: [] } },
    { format: 'pt' },
  );
  const json =
    '{"__metadata__":{"format":"pt"},' +
    '"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},' +
    '"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}';
  assert.is(json.length, 138);
  const expected = Buffer.concat([
    Buffer.from([144, 0, 0, 0, 0, 0, 0, 0]), // u64 LE header length, padded 138 -> 144
    Buffer.from(json + ' '.repeat(6), 'utf8'),
    Buffer.from('0000003f' + '0000803f' + '00000040', 'hex'), // 0.5, 1, 2 as f32 LE
  ]);
  assert.is(Buffer.from(bytes).toString('hex'), expected.toString('hex'));
});

test('deterministic: key insertion order does not matter; data section 8-byte aligned', () => {
  const rand = rng(2);
  const a = randomTensor([3], rand);
  const b = randomTensor([2, 2], rand);
  const c = randomTensor([], rand);
  const one = encodeSafetensors({ a, b, c }, { x: '1', y: '2' });
  const two = encodeSafetensors({ c, b, a }, { y: '2', x: '1' });
  assert.is(Buffer.from(one).toString('hex'), Buffer.from(two).toString('hex'));
  for (const n of [0, 1, 2, 3, 7, 8, 9]) {
    const names: Record<string, TensorData> = {};
    for (let i = 0; i < n; i++) names['t'.repeat(i + 1)] = randomTensor([1], rand);
    const { len, text } = headerOf(encodeSafetensors(names));
    assert.is(len % 8, 0);
    assert.ok(text.startsWith('{'));
  }
});

test('decodes from an unaligned view and copies the data out', () => {
  const bytes = encodeSafetensors({ w: { data: new Float32Array([1, 2, 3]), shape: [3] } });
  const backing = new Uint8Array(bytes.length + 3);
  backing.set(bytes, 3);
  const view = backing.subarray(3);
  const out = decodeSafetensors(view).tensors.w.data;
  assert.equal([...out], [1, 2, 3]);
  backing.fill(0);
  assert.equal([...out], [1, 2, 3], 'decoded data must not alias the input');
});

test('accepts files that are not padded and store tensors out of name order', () => {
  const data = new Uint8Array(new Float32Array([5, 6, 7]).buffer);
  const bytes = craft({ z: f32(1, 'F32', [], 0), a: f32(2, 'F32', [2, 1], 4) }, data);
  const { tensors } = decodeSafetensors(bytes);
  assert.equal([...tensors.z.data], [5]);
  assert.equal(tensors.a.shape, [2, 1]);
  assert.equal([...tensors.a.data], [6, 7]);
});

// ---------------------------------------------------------------- encode errors

test('encode rejects bad input with errors naming the tensor and shapes', () => {
  assert.throws(
    () => encodeSafetensors({ w: { data: new Float32Array(5), shape: [2, 3] } }),
    /tensor "w" has shape \[2, 3\] \(6 elements\) but its data has 5 elements/,
  );
  assert.throws(() => encodeSafetensors({ '': { data: new Float32Array(1), shape: [1] } }), /non-empty/);
  assert.throws(() => encodeSafetensors({ __metadata__: { data: new Float32Array(1), shape: [1] } }), /reserved/);
  assert.throws(
    () => encodeSafetensors({ w: { data: new Float64Array(1) as unknown as Float32Array, shape: [1] } }),
    /tensor "w" data must be a Float32Array.*Float64Array/,
  );
  assert.throws(() => encodeSafetensors({ w: { data: new Float32Array(1), shape: [-1] } }), /tensor "w" shape must be/);
  assert.throws(() => encodeSafetensors({ w: { data: new Float32Array(1), shape: [0.5] } }), /tensor "w" shape must be/);
  assert.throws(() => encodeSafetensors({}, { epoch: 3 as unknown as string }), /metadata\["epoch"\] must be a string, got 3/);
  assert.throws(() => encodeSafetensors({}, ['x'] as unknown as Record<string, string>), /metadata must be an object/);
});

// ---------------------------------------------------------------- corruption

function validFile(): Uint8Array {
  const rand = rng(3);
  return encodeSafetensors({ a: randomTensor([2, 3], rand), b: randomTensor([4], rand), c: randomTensor([], rand) }, { epoch: '1' });
}

test('truncated files are rejected at every cut point', () => {
  const bytes = validFile();
  const n = headerOf(bytes).len;
  const cuts = [0, 1, 7, 8, 9, 8 + (n >> 1), 8 + n - 1, 8 + n, 8 + n + 1, 8 + n + 4, bytes.length - 4, bytes.length - 1];
  for (const cut of cuts) throwsCorrupt(() => decodeSafetensors(bytes.slice(0, cut)));
  throwsCorrupt(() => decodeSafetensors(bytes.slice(0, 5)), /expected at least 8 bytes.*found 5/);
  throwsCorrupt(() => decodeSafetensors(bytes.slice(0, 8 + 10)), new RegExp(`header length field says ${n} bytes, but only 10`));
  throwsCorrupt(() => decodeSafetensors(bytes.slice(0, bytes.length - 1)), /run past the end of the data section/);
  throwsCorrupt(() => decodeSafetensors(bytes.slice(0, 8 + n)), /run past the end of the data section, which has only 0 bytes/);
});

test('a damaged header length is rejected', () => {
  const bytes = validFile();
  const n = headerOf(bytes).len;
  const withLen = (len: bigint): Uint8Array => {
    const copy = bytes.slice();
    new DataView(copy.buffer).setBigUint64(0, len, true);
    return copy;
  };
  throwsCorrupt(() => decodeSafetensors(withLen(0xffffffffffffffffn)), /header length field says 18446744073709551615/);
  const flipped = bytes.slice();
  flipped[7] ^= 0x80; // top bit of the u64
  throwsCorrupt(() => decodeSafetensors(flipped), /header length field says/);
  throwsCorrupt(() => decodeSafetensors(withLen(0n)), /header length of 0/);
  for (const len of [n - 8, n - 1, n + 1, n + 4, n + 8]) throwsCorrupt(() => decodeSafetensors(withLen(BigInt(len))));
  const huge = craft('{}' + ' '.repeat(10), new Uint8Array(0), 100_000_001);
  throwsCorrupt(() => decodeSafetensors(huge), /header length field says/);
});

test('invalid header text is rejected', () => {
  throwsCorrupt(() => decodeSafetensors(craft('{"a": ')), /not valid JSON/);
  throwsCorrupt(() => decodeSafetensors(craft('{not json}')), /not valid JSON/);
  throwsCorrupt(() => decodeSafetensors(craft('[1, 2]')), /start with '\{', found byte 0x5b/);
  throwsCorrupt(() => decodeSafetensors(craft('  {}')), /start with '\{'/);
  const badUtf8 = craft('{"a":1}');
  badUtf8[10] = 0xff;
  throwsCorrupt(() => decodeSafetensors(badUtf8), /not valid UTF-8/);
  const garbled = validFile();
  garbled[8 + 15] = '}'.charCodeAt(0); // the ':' after "__metadata__"
  throwsCorrupt(() => decodeSafetensors(garbled), /not valid JSON/);
});

test('malformed entries are rejected', () => {
  const d4 = new Uint8Array(4);
  throwsCorrupt(() => decodeSafetensors(craft({ a: 1 }, d4)), /tensor "a" to be an object/);
  throwsCorrupt(() => decodeSafetensors(craft({ a: { shape: [1], data_offsets: [0, 4] } }, d4)), /string dtype/);
  throwsCorrupt(
    () => decodeSafetensors(craft({ a: f32(1, 'F32', [-1]) }, d4)),
    /shape to be an array of non-negative integers, found \[-1\]/,
  );
  throwsCorrupt(() => decodeSafetensors(craft({ a: f32(1, 'F32', [1.5]) }, d4)), /non-negative integers/);
  throwsCorrupt(() => decodeSafetensors(craft({ a: { dtype: 'F32', shape: [1], data_offsets: [0] } }, d4)), /data_offsets/);
  throwsCorrupt(() => decodeSafetensors(craft({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, d4)), /begin <= end/);
  throwsCorrupt(() => decodeSafetensors(craft({ a: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }, d4)), /data_offsets/);
  throwsCorrupt(
    () => decodeSafetensors(craft({ a: f32(3, 'F32', [3], 0, 8) }, new Uint8Array(8))),
    /shape \[3\] F32, so expected 12 bytes, but data_offsets \[0, 8\] span 8 bytes/,
  );
  throwsCorrupt(() => decodeSafetensors(craft({ a: f32(1, 'F32', [2 ** 40, 2 ** 40]) }, d4)), /expected/);
  throwsCorrupt(() => decodeSafetensors(craft({ __metadata__: { epoch: 1 } })), /__metadata__\["epoch"\] to be a string, found 1/);
  throwsCorrupt(() => decodeSafetensors(craft({ __metadata__: ['x'] })), /"__metadata__" to be an object/);
});

test('offsets out of range, overlapping, with gaps or trailing bytes are rejected', () => {
  throwsCorrupt(
    () => decodeSafetensors(craft({ a: f32(2) }, new Uint8Array(4))),
    /tensor "a" data_offsets \[0, 8\] run past the end of the data section, which has only 4 bytes/,
  );
  throwsCorrupt(
    () => decodeSafetensors(craft({ a: f32(2, 'F32', [2], 0), b: f32(2, 'F32', [2], 4) }, new Uint8Array(12))),
    /tensor "b" data_offsets \[4, 12\] overlap tensor "a" which ends at 8/,
  );
  throwsCorrupt(
    () => decodeSafetensors(craft({ a: f32(1, 'F32', [1], 0), b: f32(1, 'F32', [1], 8) }, new Uint8Array(12))),
    /tensor "b" starts at data offset 8, expected 4 \(4 bytes not covered/,
  );
  throwsCorrupt(() => decodeSafetensors(craft({ a: f32(1, 'F32', [1], 4) }, new Uint8Array(8))), /starts at data offset 4, expected 0/);
  throwsCorrupt(
    () => decodeSafetensors(craft({ a: f32(1) }, new Uint8Array(12))),
    /tensors cover 4 bytes of data, but the data section has 12 bytes \(8 trailing bytes\)/,
  );
  throwsCorrupt(
    () => decodeSafetensors(craft({ a: f32(2), z: f32(0, 'F32', [0], 4) }, new Uint8Array(8))),
    /tensor "a" data_offsets \[0, 8\] overlap tensor "z"|tensor "z" data_offsets \[4, 4\] overlap tensor "a"/,
  );
  // zero-size tensors at a boundary are fine
  const ok = decodeSafetensors(craft({ a: f32(1), z: f32(0, 'F32', [2, 0], 4), y: f32(0, 'F32', [0], 0) }, new Uint8Array(4)));
  assert.equal(ok.tensors.z.shape, [2, 0]);
  assert.is(ok.tensors.y.data.length, 0);
});

test('unsupported dtypes say which dtypes are supported', () => {
  assert.throws(
    () => decodeSafetensors(craft({ h: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8))),
    /tensor "h" has dtype F64, which wgrad cannot read; supported dtypes: F32, I32, F16, BF16/,
  );
  assert.throws(
    () => decodeSafetensors(craft({ h: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8))),
    /dtype I64.*supported dtypes: F32, I32, F16, BF16/,
  );
  // A half-precision tensor's byte count is checked at 2 bytes per element.
  assert.throws(
    () => decodeSafetensors(craft({ h: { dtype: 'F16', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(8))),
    /tensor "h" has shape \[2\] F16, so expected 4 bytes/,
  );
});

test('I32 round-trips exactly (beyond 2^24); F32 and I32 side by side', () => {
  const ints = Int32Array.from([16777217, -2147483648, 2147483647, 0, -1]);
  const out = decodeSafetensors(encodeSafetensors({ i: { data: ints, shape: [5] }, f: { data: Float32Array.from([1.5]), shape: [1] } }));
  assert.is(out.tensors.i.dtype, 'I32');
  assert.ok(out.tensors.i.data instanceof Int32Array);
  assert.equal(Array.from(out.tensors.i.data), Array.from(ints));
  assert.is(out.tensors.f.dtype, 'F32');
  assert.throws(
    () => encodeSafetensors({ u: { data: new Uint8Array(2) as never, shape: [2] } }),
    /data must be a Float32Array \(F32\) or an Int32Array \(I32\)/,
  );
});

// torch writes the half-precision tensors (by hand: Debian has no safetensors module), an I32 one,
// and the float32 bytes each should widen to; Python also reads our I32 file back.
const PY_HALF = String.raw`
import json, struct, sys, torch
path, expect_path, ours = sys.argv[1], sys.argv[2], sys.argv[3]
torch.manual_seed(0)
special = [0.0, -0.0, 1.0, -2.5, 65504.0, 6e-08, 1e-05, float('inf'), float('-inf'), float('nan')]
f16 = torch.cat([torch.tensor(special), torch.randn(13) * 100]).to(torch.float16).reshape(23)
bf16 = torch.cat([torch.tensor(special), torch.tensor([3e38, -1e-38]), torch.randn(7) * 1e4]).to(torch.bfloat16).reshape(19)
i32 = torch.tensor([16777217, -2**31, 2**31 - 1, 7], dtype=torch.int32)
tensors = {'h': (f16, 'F16'), 'b': (bf16, 'BF16'), 'i': (i32, 'I32')}
header, data, expected = {}, b'', {}
for name, (t, dt) in tensors.items():
    raw = (t.view(torch.int16) if dt in ('F16', 'BF16') else t).numpy().tobytes()
    header[name] = {'dtype': dt, 'shape': list(t.shape), 'data_offsets': [len(data), len(data) + len(raw)]}
    data += raw
    widened = t if dt == 'I32' else t.float()
    expected[name] = widened.numpy().tobytes().hex()
h = json.dumps(header).encode()
h += b' ' * (-len(h) % 8)
open(path, 'wb').write(struct.pack('<Q', len(h)) + h + data)
hl = struct.unpack('<Q', open(ours, 'rb').read(8))[0]
raw = open(ours, 'rb').read()
hdr = json.loads(raw[8:8 + hl])
b0, b1 = hdr['n']['data_offsets']
import numpy
back = numpy.frombuffer(raw[8 + hl + b0:8 + hl + b1], dtype='<i4').tolist()
json.dump({'expected': expected, 'dtype_of_ours': hdr['n']['dtype'], 'ours': back}, open(expect_path, 'w'))
`;

test('F16 and BF16 checkpoints written by torch widen to float32 exactly; I32 both ways', () => {
  const python = findPythonWithTorch();
  if (!python) {
    console.log('skipped: F16/BF16 cross-check (no Python with torch: apt install python3-torch)');
    return;
  }
  withTmpDir((dir) => {
    const [path, expectPath, ours] = ['half.safetensors', 'expected.json', 'ours.safetensors'].map((f) => join(dir, f));
    const mine = Int32Array.from([16777217, -5, 2147483647]);
    writeFileSync(ours, encodeSafetensors({ n: { data: mine, shape: [3] } }));
    runPython(python, PY_HALF, [path, expectPath, ours]);
    const report = JSON.parse(readFileSync(expectPath, 'utf8')) as {
      expected: Record<string, string>;
      dtype_of_ours: string;
      ours: number[];
    };
    const { tensors } = decodeSafetensors(readFileSync(path));
    assert.equal([tensors.h.dtype, tensors.b.dtype, tensors.i.dtype], ['F16', 'BF16', 'I32']);
    assert.ok(tensors.h.data instanceof Float32Array && tensors.b.data instanceof Float32Array && tensors.i.data instanceof Int32Array);
    for (const name of ['h', 'b', 'i'])
      assert.is(hex(tensors[name].data), report.expected[name], `bits of ${name} (${tensors[name].dtype})`);
    assert.is(report.dtype_of_ours, 'I32');
    assert.equal(report.ours, Array.from(mine));
  });
});

// ---------------------------------------------------------------- Python cross-checks

const PY_READ = String.raw`
import sys, json, struct, hashlib
import numpy as np
try:
    import torch
except Exception:
    torch = None
raw = open(sys.argv[1], 'rb').read()
(n,) = struct.unpack('<Q', raw[:8])
header = json.loads(raw[8:8 + n].decode('utf-8'))
data = raw[8 + n:]
meta = header.pop('__metadata__', {})
out = {'header_len': n, 'metadata': meta, 'torch': torch is not None, 'tensors': {}}
for name, info in header.items():
    b, e = info['data_offsets']
    arr = np.frombuffer(data[b:e], dtype='<f4').reshape(info['shape'])
    rec = {'dtype': info['dtype'], 'shape': list(arr.shape),
           'sha256': hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()}
    if torch is not None:
        if e > b:
            t = torch.frombuffer(bytearray(data[b:e]), dtype=torch.float32)
        else:
            t = torch.empty(0, dtype=torch.float32)
        t = t.reshape(info['shape'])
        rec['torch_shape'] = list(t.shape)
        rec['torch_sha256'] = hashlib.sha256(t.contiguous().numpy().tobytes()).hexdigest()
    out['tensors'][name] = rec
print(json.dumps(out))
`;

const PY_WRITE = String.raw`
import sys, json, struct
import numpy as np
path, expect_path = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(1234)
special = np.array([0x7fc00001, 0x7f800001, 0x80000000, 0x7f800000, 0xff800000, 0x00000001, 0x7f7fffff],
                   dtype='<u4').view('<f4')
tensors = {
    'conv.weight': rng.standard_normal((4, 3, 3, 3)).astype('<f4'),
    'bn.bias': rng.standard_normal(5).astype('<f4'),
    'scalar': np.array(3.25, dtype='<f4'),
    'empty': np.zeros((0, 7), dtype='<f4'),
    'sp\u00e9cial.0': special,
    'fortran': np.asfortranarray(rng.standard_normal((3, 5)).astype('<f4')),
}
header = {'__metadata__': {'epoch': '7', 'note': 'written by numpy \u2713 \U0001d11e'}}
blobs, off = [], 0
for name in sorted(tensors, reverse=True):  # data in reverse name order, header keys unpadded
    b = np.ascontiguousarray(tensors[name]).tobytes()
    header[name] = {'dtype': 'F32', 'shape': list(tensors[name].shape), 'data_offsets': [off, off + len(b)]}
    blobs.append(b)
    off += len(b)
h = json.dumps(header).encode('utf-8')
with open(path, 'wb') as f:
    f.write(struct.pack('<Q', len(h)))
    f.write(h)
    f.write(b''.join(blobs))
with open(expect_path, 'w') as f:
    json.dump({'metadata': header['__metadata__'],
               'tensors': {k: {'shape': list(a.shape), 'hex': np.ascontiguousarray(a).tobytes().hex()}
                           for k, a in tensors.items()}}, f)
`;

function withTmpDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'wgrad-io-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('Python (numpy, torch) reads what we write, bit for bit', () => {
  const python = findPythonWithNumpy();
  if (!python) {
    return skip('no python3 with numpy (bash scripts/setup.sh --with-python installs python3-numpy)');
  }
  const rand = rng(42);
  const tensors: Record<string, TensorData> = {
    'encoder.conv1.weight': randomTensor([8, 3, 3, 3], rand),
    'encoder.fc.bias': randomTensor([10], rand),
    queue: randomTensor([16, 32], rand),
    step: randomTensor([], rand),
    empty: randomTensor([2, 0, 3], rand),
    special: { data: specialValues(), shape: [2, 6] },
    'naïve 𝄞': randomTensor([3], rand),
  };
  const metadata = { format: 'pt', epoch: '3', note: 'wgrad ✓ 𝄞' };
  withTmpDir((dir) => {
    const path = join(dir, 'from-ts.safetensors');
    const bytes = encodeSafetensors(tensors, metadata);
    writeFileSync(path, bytes);
    const report = JSON.parse(runPython(python, PY_READ, [path])) as {
      header_len: number;
      metadata: Record<string, string>;
      torch: boolean;
      tensors: Record<string, { dtype: string; shape: number[]; sha256: string; torch_shape?: number[]; torch_sha256?: string }>;
    };
    assert.is(report.header_len, headerOf(bytes).len);
    assert.equal(report.metadata, metadata);
    assert.equal(Object.keys(report.tensors).sort(), Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const py = report.tensors[name];
      assert.is(py.dtype, 'F32', name);
      assert.equal(py.shape, [...t.shape], `numpy shape of ${name}`);
      assert.is(py.sha256, sha256(t.data), `numpy bytes of ${name}`);
      if (report.torch) {
        assert.equal(py.torch_shape, [...t.shape], `torch shape of ${name}`);
        assert.is(py.torch_sha256, sha256(t.data), `torch bytes of ${name}`);
      }
    }
    if (!report.torch) console.log('note: torch not importable; checked with numpy only');
  });
});

test('we read what Python (numpy) writes, bit for bit', () => {
  const python = findPythonWithNumpy();
  if (!python) {
    return skip('no python3 with numpy (bash scripts/setup.sh --with-python installs python3-numpy)');
  }
  withTmpDir((dir) => {
    const path = join(dir, 'from-py.safetensors');
    const expectPath = join(dir, 'expected.json');
    runPython(python, PY_WRITE, [path, expectPath]);
    const expected = JSON.parse(readFileSync(expectPath, 'utf8')) as {
      metadata: Record<string, string>;
      tensors: Record<string, { shape: number[]; hex: string }>;
    };
    const { tensors, metadata } = decodeSafetensors(readFileSync(path));
    assert.equal(metadata, expected.metadata);
    assert.equal(Object.keys(tensors).sort(), Object.keys(expected.tensors).sort());
    for (const [name, e] of Object.entries(expected.tensors)) {
      assert.equal(tensors[name].shape, e.shape, `shape of ${name}`);
      assert.is(hex(tensors[name].data), e.hex, `bits of ${name}`);
    }
    // and our own encoding of what we read decodes to the same bits
    const again = decodeSafetensors(encodeSafetensors(tensors, metadata));
    for (const name of Object.keys(tensors)) assert.is(hex(again.tensors[name].data), hex(tensors[name].data));
  });
});

test.run();
