// Seeded mutations of a run checkpoint for the fuzz test in run-checkpoint.test.ts: metadata values
// (garbage, wrong types, out of range, missing, plausible-but-changed), JSON fields inside them,
// tensors (missing, renamed — `__proto__` included —, reshaped, another dtype, NaN/±Inf, a changed
// value) and a few unchanged files (the first case always). Each case says which keys an error must name.

import { decodeSafetensors, encodeSafetensors, type TensorData } from '../../src/io/safetensors.ts';
import { Generator as Rng } from '../../src/random.ts';

export interface FuzzCase {
  what: string;
  /** An error must name one of these (the key changed, or the digest that covers every value). */
  keys: string[];
  bytes: Uint8Array;
  /** Nothing was changed: the resume must succeed and match the uninterrupted run. */
  unchanged: boolean;
}

const GARBAGE = [
  '',
  'abc',
  '-1',
  '1.5',
  '1e400',
  'NaN',
  'null',
  '[]',
  '{}',
  '"x"',
  '99999999999',
  '0',
  '2',
  '1',
  '{"a":',
  'true',
  '[1,2]',
  ' 1',
];
const VALUES: unknown[] = [null, -1, 0, 1, 2, 1.5, 1e9, -1e9, 'x', '', true, false, [], {}, [1, 2, 3], { a: 1 }, 2 ** 32, 1e-9];
const NAMES = [
  '__proto__',
  'constructor',
  'toString',
  'model.extra',
  'extra.queue2',
  'optimizer.99.momentumBuffer',
  'model.backbone.features.0.weight',
];

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[rng.int(xs.length)];

/** Changes one field somewhere inside a JSON value (objects and arrays, up to 3 levels deep). */
function mutateJson(rng: Rng, v: unknown, depth = 0): { value: unknown; path: string } {
  if (v === null || typeof v !== 'object' || depth >= 3 || rng.uniform() < 0.25) return { value: pick(rng, VALUES), path: '' };
  const keys = Object.keys(v);
  if (keys.length === 0) return { value: pick(rng, VALUES), path: '' };
  const k = pick(rng, keys);
  const copy: Record<string, unknown> = Array.isArray(v)
    ? ([...v] as unknown as Record<string, unknown>)
    : { ...(v as Record<string, unknown>) };
  if (rng.uniform() < 0.2) {
    if (Array.isArray(copy)) (copy as unknown as unknown[]).splice(Number(k), 1);
    else delete copy[k];
    return { value: copy, path: k };
  }
  const inner = mutateJson(rng, copy[k], depth + 1);
  copy[k] = inner.value;
  return { value: copy, path: inner.path ? `${k}.${inner.path}` : k };
}

/** safetensors bytes with tensor `name`'s dtype written as `dtype` (same data bytes), or null if the header has no room. */
function withDtype(bytes: Uint8Array, name: string, dtype: string): Uint8Array | null {
  const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = new TextDecoder().decode(bytes.subarray(8, 8 + headerLen));
  const patched = header
    .replace(`${JSON.stringify(name)}:{"dtype":"F32"`, `${JSON.stringify(name)}:{"dtype":${JSON.stringify(dtype)}`)
    .trimEnd();
  if (patched.length > headerLen) return null;
  const out = new Uint8Array(bytes);
  out.set(new TextEncoder().encode(patched.padEnd(headerLen, ' ')), 8);
  return out;
}

/** Whether two checkpoint files hold the same tensors (names, shapes, bytes) and metadata. */
function sameContents(a: Uint8Array, b: Uint8Array): boolean {
  let x, y;
  try {
    [x, y] = [decodeSafetensors(a), decodeSafetensors(b)];
  } catch {
    return false;
  }
  const bytes = (t: TensorData) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const names = Object.keys(x.tensors).sort();
  if (names.join('\0') !== Object.keys(y.tensors).sort().join('\0')) return false;
  if (
    names.some(
      (n) =>
        x.tensors[n].dtype !== y.tensors[n].dtype ||
        x.tensors[n].shape.join() !== y.tensors[n].shape.join() ||
        !bytes(x.tensors[n]).equals(bytes(y.tensors[n])),
    )
  )
    return false;
  const keys = Object.keys(x.metadata).sort();
  return keys.join('\0') === Object.keys(y.metadata).sort().join('\0') && keys.every((k) => x.metadata[k] === y.metadata[k]);
}

/** `count` mutated copies of `base`, reproducible from `seed`; a mutation that changed nothing is marked unchanged. */
export function* checkpointMutations(base: Uint8Array, seed: number, count: number): Generator<FuzzCase> {
  for (const c of rawMutations(base, seed, count))
    yield c.unchanged || !sameContents(c.bytes, base) ? c : { ...c, unchanged: true, what: `${c.what} (the same value)` };
}

function* rawMutations(base: Uint8Array, seed: number, count: number): Generator<FuzzCase> {
  const rng = new Rng(seed);
  for (let i = 0; i < count; i++) {
    const { tensors, metadata } = decodeSafetensors(base);
    const t: Record<string, TensorData> = Object.create(null);
    for (const [k, v] of Object.entries(tensors)) t[k] = { data: Float32Array.from(v.data), shape: [...v.shape] };
    const m: Record<string, string> = Object.create(null);
    Object.assign(m, metadata);
    const names = Object.keys(t);
    const metaKeys = Object.keys(m);
    const r = rng.uniform();
    const encode = () => encodeSafetensors(t, m);
    if (i === 0 || r < 0.01) {
      yield { what: 'unchanged', keys: [], bytes: encode(), unchanged: true };
    } else if (r < 0.22) {
      const key = pick(rng, metaKeys);
      const v = pick(rng, GARBAGE);
      m[key] = v;
      yield { what: `metadata ${key} = ${JSON.stringify(v)}`, keys: [key, 'moco.digest'], bytes: encode(), unchanged: false };
    } else if (r < 0.3) {
      const key = pick(rng, metaKeys);
      delete m[key];
      yield { what: `metadata ${key} removed`, keys: [key, 'moco.digest'], bytes: encode(), unchanged: false };
    } else if (r < 0.5) {
      const key = pick(
        rng,
        metaKeys.filter((k) => {
          try {
            return typeof JSON.parse(m[k]) === 'object';
          } catch {
            return false;
          }
        }),
      );
      const { value, path } = mutateJson(rng, JSON.parse(m[key]));
      m[key] = JSON.stringify(value) ?? 'null';
      const field = path.split('.')[0];
      yield {
        what: `metadata ${key} field ${path} changed to ${m[key].slice(0, 80)}`,
        keys: [key, 'moco.digest', ...(field ? [field] : [])],
        bytes: encode(),
        unchanged: false,
      };
    } else if (r < 0.58) {
      const name = pick(rng, names);
      delete t[name];
      yield { what: `tensor ${name} removed`, keys: [name, 'moco.digest'], bytes: encode(), unchanged: false };
    } else if (r < 0.66) {
      const name = pick(rng, names);
      const to = rng.uniform() < 0.5 ? pick(rng, NAMES) : `${name}.x`;
      const moved = t[name];
      delete t[name];
      if (t[to]) delete t[to];
      t[to] = moved;
      yield { what: `tensor ${name} renamed ${to}`, keys: [name, to, 'moco.digest'], bytes: encode(), unchanged: false };
    } else if (r < 0.76) {
      const name = pick(rng, names);
      const s = t[name].shape;
      const shapes = [[s.reduce((a, b) => a * b, 1)], [1, ...s], [...s].reverse(), [...s, 1]].filter((x) => x.join() !== s.join());
      const shape = pick(rng, shapes);
      t[name].shape = shape;
      yield { what: `tensor ${name} reshaped [${s}] → [${shape}]`, keys: [name, 'moco.digest'], bytes: encode(), unchanged: false };
    } else if (r < 0.84) {
      const name = pick(rng, names);
      const dtype = pick(rng, ['F16', 'BF16', 'I32', 'F64', 'I64', 'U8']);
      const bytes = withDtype(encode(), name, dtype) ?? withDtype(encode(), name, 'F16')!;
      yield { what: `tensor ${name} dtype ${dtype}`, keys: [name, 'moco.digest'], bytes, unchanged: false };
    } else if (r < 0.94) {
      const name = pick(
        rng,
        names.filter((n) => t[n].data.length > 0),
      );
      const v = pick(rng, [NaN, Infinity, -Infinity]);
      const at = rng.int(t[name].data.length);
      t[name].data[at] = v;
      yield { what: `tensor ${name}[${at}] = ${v}`, keys: [name, 'moco.digest'], bytes: encode(), unchanged: false };
    } else {
      const name = pick(
        rng,
        names.filter((n) => t[n].data.length > 0),
      );
      const at = rng.int(t[name].data.length);
      t[name].data[at] += 0.25;
      yield { what: `tensor ${name}[${at}] += 0.25`, keys: [name, 'moco.digest'], bytes: encode(), unchanged: false };
    }
  }
}
