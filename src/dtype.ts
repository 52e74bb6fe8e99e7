// Element types. float32 is the default everywhere; int32 holds indices, labels, counts and
// comparison results exactly (every integer of |v| < 2^31, where f32 stops at 2^24).

/** A tensor's element type (PyTorch's torch.float32 / torch.int32). @example tensor([1, 2], undefined, { dtype: 'int32' }).dtype // 'int32' */
export type DType = 'float32' | 'int32';
export const DTYPES: readonly DType[] = ['float32', 'int32'];

/** The WGSL scalar type that stores a dtype. */
export const wgslType = (d: DType): 'f32' | 'i32' => (d === 'int32' ? 'i32' : 'f32');

/** Throws unless `d` names a dtype wgrad has. */
export function checkDType(op: string, d: unknown): DType {
  if (d === 'float32' || d === 'int32') return d;
  throw new Error(`${op}: unknown dtype ${JSON.stringify(d)}; wgrad has 'float32' and 'int32'`);
}

/** PyTorch's promotion for the two dtypes wgrad has: int32 with int32 stays int32, anything with float32 is float32. */
export const promote = (...ds: DType[]): DType => (ds.every((d) => d === 'int32') ? 'int32' : 'float32');

/** The dtype a JS number takes beside a tensor (PyTorch: a Python int keeps an integer tensor integral). */
export const scalarDType = (v: number): DType => (Number.isInteger(v) && Math.abs(v) < 2 ** 31 ? 'int32' : 'float32');
