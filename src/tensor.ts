// Tensor: a float32 or int32 row-major view (shape, strides, offset) onto a GPU buffer. Views
// such as transpose, slice and expand share the buffer ("storage") and only change shape/strides/offset;
// kernels read any strided view directly, so most views never copy. Methods are thin: the work
// happens in src/ops/*, gradients in src/autograd/.

import type { Device } from './device/device.ts';
import { device as currentDevice } from './runtime.ts';
import { track, isPersistent, keep } from './scope.ts';
import { MAX_RANK, fmt, numel, stridesOf, type Shape } from './shape.ts';
import type { GradNode } from './autograd/graph.ts';
import * as ew from './ops/elementwise.ts';
import * as red from './ops/reduce.ts';
import * as sh from './ops/shape.ts';
import * as ra from './ops/rearrange.ts';
import * as att from './ops/attention.ts';
import { matmul } from './ops/matmul.ts';
import * as srt from './ops/sort.ts';
import { backward } from './autograd/backward.ts';
import { formatTensor, nestValues } from './format.ts';
import { checkDType, type DType } from './dtype.ts';

/** A GPU buffer shared by a tensor and its views; returned to the pool when the last one goes. */
export class Storage {
  private refs = 0;
  freed = false;
  constructor(
    readonly device: Device,
    readonly buffer: GPUBuffer,
    readonly numel: number,
    readonly dtype: DType = 'float32',
  ) {
    // The device refuses int32 buffers in kernels written for f32 (DispatchSpec.ints).
    if (dtype === 'int32') device.intBuffers.add(buffer);
    else device.intBuffers.delete(buffer);
  }
  retain(): void {
    this.refs++;
  }
  /** How many live tensors (views included) use this storage. */
  get refCount(): number {
    return this.refs;
  }
  release(): void {
    if (--this.refs > 0 || this.freed) return;
    this.freed = true;
    this.device.intBuffers.delete(this.buffer);
    if (!this.device.isLost) this.device.pool.release(this.buffer);
  }
}

/** Tensors nobody disposed release their storage when JS collects them (collections: device/collect.ts). */
const finalizer = new FinalizationRegistry<Storage>((storage) => storage.release());

let nextId = 1;

/**
 * A float32 (default) or int32 tensor on the GPU: a strided view (shape, strides, offset) of a
 * Storage buffer, so transpose/permute/expand/slice share memory. int32 holds labels, indices and
 * comparison results exactly; index ops check host arrays always, the values of int32 index
 * tensors only through anomaly detection (out of range, they give NaN). Methods mirror the functional ops (`a.add(b)` is
 * `add(a, b)`); values are read asynchronously (toArray(), item()), which submits the recorded
 * work. Gradients: requiresGrad, backward(), grad, detach(). Memory: dispose(), tidy(), keep().
 *
 * @example
 * const x = tensor([[1, 2], [3, 4]], undefined, { requiresGrad: true });
 * const y = x.matmul(x.T).relu().sum();      // x.T: a transposed view
 * y.backward();
 * console.log(await y.item(), await x.grad!.toArray(), x.shape);
 */
export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  /** Element offset into the storage. */
  readonly offset: number;
  readonly storage: Storage;
  /** Set on leaves whose gradient `backward()` should compute. */
  requiresGrad = false;
  /** Accumulated gradient of a leaf (same shape), or null. */
  grad: Tensor | null = null;
  /** How this tensor was computed (null for leaves and when grad is off). */
  node: GradNode | null = null;
  private disposed = false;

  constructor(storage: Storage, shape: Shape, strides?: readonly number[], offset = 0) {
    if (shape.length > MAX_RANK) throw new Error(`wgrad: rank ${shape.length} (shape ${fmt(shape)}) exceeds the maximum rank ${MAX_RANK}`);
    this.storage = storage;
    this.shape = [...shape];
    this.strides = strides ? [...strides] : stridesOf(shape);
    this.offset = offset;
    storage.retain();
    finalizer.register(this, storage, this);
    track(this);
  }

  /** A new contiguous tensor with uninitialised contents (ops fill it). */
  static empty(shape: Shape, dev: Device = currentDevice(), dtype: DType = 'float32'): Tensor {
    if (shape.length > MAX_RANK) throw new Error(`wgrad: rank ${shape.length} (shape ${fmt(shape)}) exceeds the maximum rank ${MAX_RANK}`);
    for (const d of shape)
      if (!Number.isInteger(d) || d < 0) throw new Error(`wgrad: invalid shape ${fmt(shape)}: dimensions must be non-negative integers`);
    const n = numel(shape);
    dev.checkUsable('create tensor');
    const limit = dev.info.limits.maxStorageBufferBindingSize;
    if (n * 4 > limit) {
      throw new Error(
        `wgrad: a tensor of shape ${fmt(shape)} needs ${n * 4} bytes, more than this device binds in one buffer (maxStorageBufferBindingSize ${limit} bytes on ${dev.info.description || dev.info.backend}); split it into blocks along its first dimension (at most ${Math.floor(limit / (4 * (n / shape[0])))} rows each)`,
      );
    }
    return new Tensor(new Storage(dev, dev.pool.acquire(n * 4), n, checkDType('empty', dtype)), shape);
  }

  get device(): Device {
    return this.storage.device;
  }
  /** Element type: 'float32' (default) or 'int32' (indices, labels, comparison results). */
  get dtype(): DType {
    return this.storage.dtype;
  }
  get ndim(): number {
    return this.shape.length;
  }
  get size(): number {
    return numel(this.shape);
  }
  numel(): number {
    return numel(this.shape);
  }
  get isDisposed(): boolean {
    return this.disposed;
  }
  get isContiguous(): boolean {
    const s = stridesOf(this.shape);
    return this.shape.every((d, i) => d === 1 || s[i] === this.strides[i]);
  }

  /** Throws a clear error if this tensor can no longer be used. */
  assertAlive(op: string): void {
    if (this.disposed || this.storage.freed) {
      throw new Error(
        `wgrad: ${op}: tensor #${this.id} (shape ${fmt(this.shape)}) was disposed; keep() it or return it from tidy() to use it later`,
      );
    }
    this.storage.device.checkUsable(op);
  }

  /** Frees the GPU memory now (idempotent). Views of it stay valid until they are disposed too. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    finalizer.unregister(this);
    // Keep only a stub of the node (no inputs, no backward rule): it frees the graph behind this
    // tensor, yet lets backward() say that a disposed intermediate, not a leaf, cut the path.
    if (this.node) this.node = { op: this.node.op, attrs: this.node.attrs, inputs: [], backward: null };
    this.storage.release();
  }

  /** Makes this tensor outlive every tidy() scope (parameters, optimizer state, queues). */
  keep(): this {
    return keep(this);
  }
  get isPersistent(): boolean {
    return isPersistent(this);
  }

  /** Shape, dtype, device and autograd state, without reading values (print() shows those). */
  toString(): string {
    const state = this.disposed || this.storage.freed ? ', disposed' : '';
    const dev = this.device.isUsable ? 'webgpu' : 'webgpu, shut down or lost';
    return `Tensor(shape=${fmt(this.shape)}, dtype=${this.dtype}, device='${dev}'${this.requiresGrad ? ', requiresGrad=true' : ''}${this.node ? `, op=${this.node.op}` : ''}${state})`;
  }

  /** What console.log and util.inspect show in Node: toString(), not the device object behind it. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  /**
   * The values as PyTorch prints them: `tensor([[1., 2.],\n        [3., 4.]])`, summarised to the
   * first and last 3 entries per dimension above 1,000 elements; `requires_grad=True` on leaves
   * that require grad, `grad_fn=<op>` on results of recorded ops.
   * @example
   * console.log(await tensor([[1, 2], [3, 4.5]]).format()); // tensor([[1.0000, 2.0000],\n        [3.0000, 4.5000]])
   */
  async format(): Promise<string> {
    return formatTensor(await this.toArray(), this.shape, { requiresGrad: this.requiresGrad, gradFn: this.node?.op ?? null });
  }

  /** Prints format() with console.log. @example await randn([2, 3]).print(); */
  async print(): Promise<void> {
    console.log(await this.format());
  }

  /** The values as nested arrays of numbers (a number for a rank-0 tensor), like torch's tolist(). @example await tensor([[1, 2], [3, 4]]).tolist() // [[1, 2], [3, 4]] */
  async tolist(): Promise<number | unknown[]> {
    return nestValues(await this.toArray(), this.shape);
  }

  // ---- readback ---------------------------------------------------------------------------
  /**
   * Copies the values to the host, row-major: a Float32Array, or an Int32Array for an int32
   * tensor (typed as Float32Array unless asked, as tfjs's dataSync: `await idx.toArray<Int32Array>()`).
   */
  async toArray<T extends Float32Array | Int32Array = Float32Array>(): Promise<T> {
    this.assertAlive('toArray');
    const src = this.isContiguous ? this : sh.contiguous(this);
    const bytes = await this.device.read(src.storage.buffer, src.offset * 4, this.size * 4, 'toArray');
    if (src !== this) src.dispose();
    return (this.dtype === 'int32' ? new Int32Array(bytes) : new Float32Array(bytes)) as T;
  }
  /** The value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item: tensor has ${this.size} elements (shape ${fmt(this.shape)}); item() needs exactly one`);
    return (await this.toArray())[0];
  }

  /**
   * Overwrites the values in place from the host (row-major; the tensor must be contiguous), ordered
   * after the work recorded so far: e.g. the next batch into a captured step's input (capture()).
   */
  writeData(data: ArrayLike<number>): this {
    this.assertAlive('writeData');
    if (!this.isContiguous)
      throw new Error(`writeData: tensor #${this.id} (shape ${fmt(this.shape)}) is a non-contiguous view; write into a contiguous tensor`);
    if (data.length !== this.size)
      throw new Error(`writeData: ${data.length} values for a tensor of shape ${fmt(this.shape)} (needs ${this.size})`);
    const typed = this.dtype === 'int32' ? toInt32('writeData', data) : data instanceof Float32Array ? data : Float32Array.from(data);
    if (this.size > 0) this.device.upload(this.storage.buffer, this.offset * 4, typed);
    return this;
  }

  // ---- dtype ----------------------------------------------------------------------------------
  /** This tensor as `dtype` (itself if it already is; float → int truncates toward zero, as PyTorch). */
  to(dtype: DType): Tensor {
    return ew.toDType(this, dtype);
  }
  /** As float32. @example arange(3).float().div(2) // [0, 0.5, 1] */
  float(): Tensor {
    return ew.toDType(this, 'float32');
  }
  /** As int32 (truncating toward zero). @example tensor([1.7, -1.7]).int() // Int32Array [1, -1] */
  int(): Tensor {
    return ew.toDType(this, 'int32');
  }

  // ---- autograd -----------------------------------------------------------------------------
  /** Reverse-mode differentiation from this tensor (a scalar unless `grad` is given). */
  backward(grad?: Tensor, opts: { retainGraph?: boolean } = {}): void {
    backward(this, grad, opts);
  }
  /** A tensor sharing this one's values but cut off from the graph. */
  detach(): Tensor {
    this.assertAlive('detach');
    return new Tensor(this.storage, this.shape, this.strides, this.offset);
  }
  requiresGrad_(flag = true): this {
    if (flag && this.dtype !== 'float32')
      throw new Error(`requiresGrad_: only float32 tensors can require gradients (this one is ${this.dtype}), as in PyTorch`);
    if (this.node && flag)
      throw new Error(
        `requiresGrad_: tensor is the result of '${this.node.op}', not a leaf; call .detach().requiresGrad_() to make a new leaf`,
      );
    this.requiresGrad = flag;
    return this;
  }
  zeroGrad(): void {
    this.grad?.dispose();
    this.grad = null;
  }

  // ---- elementwise ----------------------------------------------------------------------------
  add(o: Tensor | number): Tensor {
    return ew.add(this, o);
  }
  sub(o: Tensor | number): Tensor {
    return ew.sub(this, o);
  }
  mul(o: Tensor | number): Tensor {
    return ew.mul(this, o);
  }
  div(o: Tensor | number): Tensor {
    return ew.div(this, o);
  }
  pow(o: Tensor | number): Tensor {
    return ew.pow(this, o);
  }
  maximum(o: Tensor | number): Tensor {
    return ew.maximum(this, o);
  }
  minimum(o: Tensor | number): Tensor {
    return ew.minimum(this, o);
  }
  gt(o: Tensor | number): Tensor {
    return ew.gt(this, o);
  }
  lt(o: Tensor | number): Tensor {
    return ew.lt(this, o);
  }
  ge(o: Tensor | number): Tensor {
    return ew.ge(this, o);
  }
  le(o: Tensor | number): Tensor {
    return ew.le(this, o);
  }
  eq(o: Tensor | number): Tensor {
    return ew.eq(this, o);
  }
  neg(): Tensor {
    return ew.neg(this);
  }
  exp(): Tensor {
    return ew.exp(this);
  }
  log(): Tensor {
    return ew.log(this);
  }
  sqrt(): Tensor {
    return ew.sqrt(this);
  }
  abs(): Tensor {
    return ew.abs(this);
  }
  relu(): Tensor {
    return ew.relu(this);
  }
  sigmoid(): Tensor {
    return ew.sigmoid(this);
  }
  tanh(): Tensor {
    return ew.tanh(this);
  }
  square(): Tensor {
    return ew.square(this);
  }
  reciprocal(): Tensor {
    return ew.reciprocal(this);
  }
  clamp(min?: number | null, max?: number | null): Tensor {
    return ew.clamp(this, min, max);
  }

  // ---- reductions -----------------------------------------------------------------------------
  sum(dims?: number | number[], keepdim = false): Tensor {
    return red.sum(this, dims, keepdim);
  }
  mean(dims?: number | number[], keepdim = false): Tensor {
    return red.mean(this, dims, keepdim);
  }
  max(dims?: number | number[], keepdim = false): Tensor {
    return red.max(this, dims, keepdim);
  }
  min(dims?: number | number[], keepdim = false): Tensor {
    return red.min(this, dims, keepdim);
  }
  var(dims?: number | number[], opts: { keepdim?: boolean; correction?: number } = {}): Tensor {
    return red.variance(this, dims, opts);
  }
  std(dims?: number | number[], opts: { keepdim?: boolean; correction?: number; unbiased?: boolean } = {}): Tensor {
    return att.std(this, dims, opts);
  }
  argmax(dim: number, keepdim = false): Tensor {
    return red.argmax(this, dim, keepdim);
  }
  argmin(dim: number, keepdim = false): Tensor {
    return red.argmin(this, dim, keepdim);
  }
  logsumexp(dims?: number | number[], keepdim = false): Tensor {
    return red.logsumexp(this, dims, keepdim);
  }

  // ---- sorting --------------------------------------------------------------------------------
  sort(dim = -1, descending = false): { values: Tensor; indices: Tensor } {
    return srt.sort(this, dim, descending);
  }
  argsort(dim = -1, descending = false): Tensor {
    return srt.argsort(this, dim, descending);
  }
  topk(k: number, dim = -1, largest = true): { values: Tensor; indices: Tensor } {
    return srt.topk(this, k, dim, largest);
  }

  // ---- shape ------------------------------------------------------------------------------------
  reshape(...shape: (number | number[])[]): Tensor {
    return sh.reshape(this, shape.flat());
  }
  view(...shape: (number | number[])[]): Tensor {
    return sh.reshape(this, shape.flat());
  }
  permute(...dims: (number | number[])[]): Tensor {
    return sh.permute(this, dims.flat());
  }
  transpose(d0 = -2, d1 = -1): Tensor {
    return sh.transpose(this, d0, d1);
  }
  get T(): Tensor {
    return sh.transpose(this, -2, -1);
  }
  expand(...shape: (number | number[])[]): Tensor {
    return sh.expand(this, shape.flat());
  }
  squeeze(dim?: number): Tensor {
    return sh.squeeze(this, dim);
  }
  unsqueeze(dim: number): Tensor {
    return sh.unsqueeze(this, dim);
  }
  contiguous(): Tensor {
    return sh.contiguous(this);
  }
  clone(): Tensor {
    return sh.clone(this);
  }
  slice(dim: number, start?: number, end?: number, step = 1): Tensor {
    return sh.slice(this, dim, start, end, step);
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return sh.slice(this, dim, start, start + length);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return sh.flatten(this, startDim, endDim);
  }
  indexSelect(dim: number, index: Tensor | ArrayLike<number>): Tensor {
    return sh.indexSelect(this, dim, index);
  }
  gather(dim: number, index: Tensor): Tensor {
    return sh.gather(this, dim, index);
  }
  flip(...dims: (number | number[])[]): Tensor {
    return ra.flip(this, dims.flat());
  }
  repeat(...sizes: (number | number[])[]): Tensor {
    return ra.repeat(this, sizes.flat());
  }
  split(splitSize: number | number[], dim = 0): Tensor[] {
    return ra.split(this, splitSize, dim);
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return ra.chunk(this, chunks, dim);
  }
  cumsum(dim: number): Tensor {
    return ra.cumsum(this, dim);
  }

  // ---- linear algebra ---------------------------------------------------------------------------
  matmul(o: Tensor): Tensor {
    return matmul(this, o);
  }
}

/** `data` as an Int32Array, refusing values that are not integers in the int32 range. */
export function toInt32(op: string, data: ArrayLike<number>): Int32Array {
  if (data instanceof Int32Array) return data;
  const out = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) {
      throw new Error(
        `${op}: value ${v} at flat index ${i} is not an int32 (integers in [-2147483648, 2147483647]); round it first or use dtype 'float32'`,
      );
    }
    out[i] = v;
  }
  return out;
}
