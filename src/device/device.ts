// The only place that talks to WebGPU. Owns the Dawn instance (kept referenced: see acquire.ts),
// the buffer pool, the pipeline and bind-group caches, and command batching: dispatches are
// recorded into one open compute pass and submitted only when a result is read, an upload needs
// ordering, or a batch limit is reached. Kernel parameters (shapes, strides, scalars) go into one
// uniform arena per batch, bound with dynamic offsets, so one pipeline serves every shape.
// capture.ts records a step's commands through the `recorder` hook and replays them.

import { acquireAdapter, isSoftware, type Acquired } from './acquire.ts';
import { BufferPool, sizeClass, type PoolCounters } from './pool.ts';
import { GrowthWatch, engineCollector } from './collect.ts';
import { fillTemplate } from './kernel-sources.ts';
import { uniformBytes, type PackedUniforms } from './uniform-layout.ts';
import { gpuWait, type WaitMode } from './wait.ts';

export interface DispatchSpec {
  /** kernels/<kernel>.wgsl */
  kernel: string;
  /** Template parameters; each distinct set compiles one pipeline. */
  params?: Record<string, string | number>;
  /** Storage buffers for @binding(1..n) of @group(0). */
  buffers: GPUBuffer[];
  /** One letter per buffer: 'r' = var<storage, read>, 'w' = var<storage, read_write>. */
  access: string;
  /**
   * Contents of the uniform struct at @binding(0) (at most UNIFORM_BYTES): a layout's packing
   * (checked against the kernel's struct when it compiles) or plain bytes.
   */
  uniforms: ArrayBuffer | PackedUniforms;
  workgroups: [number, number?, number?];
  /** The op this dispatch belongs to, for error messages and profiles. */
  label: string;
  /** The kernel reads and writes int32 buffers as such (all others are f32 and refuse them). */
  ints?: boolean;
}

/**
 * Receives what the device does while a step is being captured (capture.ts): every dispatch with
 * its compiled pipeline, every copy and upload, and any readback (which cannot be captured).
 */
export interface Recorder {
  dispatch(pipeline: GPUComputePipeline, spec: DispatchSpec, x: number, y: number, z: number): void;
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void;
  upload(buffer: GPUBuffer, byteOffset: number, data: ArrayBufferView): void;
  /** Called before a readback; throws. */
  readback(label: string): void;
}

/** Device counters (stats()): dispatches, submits, pipelines and bind groups, readbacks, uploads, and the buffer pool's. */
export interface Counters extends PoolCounters {
  dispatches: number;
  submits: number;
  pipelinesCompiled: number;
  bindGroupsCreated: number;
  bindGroupsReused: number;
  readbacks: number;
  uploads: number;
  /** Garbage collections wgrad asked for because live GPU memory grew (see src/device/collect.ts). */
  collections: number;
}

/** The adapter wgrad runs on (deviceInfo()): backend description, vendor, features, limits, family. */
export interface DeviceInfo {
  backend: string;
  vendor: string;
  architecture: string;
  description: string;
  features: string[];
  subgroupMinSize: number;
  subgroupMaxSize: number;
  limits: {
    maxStorageBuffersPerShaderStage: number;
    maxStorageBufferBindingSize: number;
    maxBufferSize: number;
    maxComputeWorkgroupsPerDimension: number;
  };
  /** Adapter family that kernel choice keys on. */
  family: 'software' | 'discrete' | 'browser';
  /** How wgrad waits for the GPU (InitOptions.wait): 'sleep' on software adapters by default. */
  wait: WaitMode;
}

export const UNIFORM_BYTES = 256;
const ARENA_BYTES = 1 << 20;
const MAX_BATCH = 2048;
/** Readback staging buffers kept for reuse, in bytes at most (see takeStaging). */
const MAX_STAGING_CACHE = 128 << 20;
const stagingSize = (bytes: number) => sizeClass(Math.max(16, bytes));

/**
 * Template parameters as a cache key. Generated kernels (conv, matmul) pass tens of KB of unrolled
 * code; their ops reuse one params object per configuration, so the key is built once per object
 * (params objects are never mutated after a dispatch).
 */
const paramsKeys = new WeakMap<object, string>();
function paramsKey(params: Record<string, string | number>): string {
  let k = paramsKeys.get(params);
  if (k === undefined) paramsKeys.set(params, (k = JSON.stringify(params)));
  return k;
}

let bufferIds = new WeakMap<GPUBuffer, number>();
let nextBufferId = 1;
function idOf(b: GPUBuffer): number {
  let id = bufferIds.get(b);
  if (id === undefined) bufferIds.set(b, (id = nextBufferId++));
  return id;
}

export class Device {
  readonly pool: BufferPool;
  /** Buffers that hold int32 tensors now (set by Storage), refused by f32-only kernels. */
  readonly intBuffers = new WeakSet<GPUBuffer>();
  readonly info: DeviceInfo;
  private readonly counters = {
    dispatches: 0,
    submits: 0,
    pipelinesCompiled: 0,
    bindGroupsCreated: 0,
    bindGroupsReused: 0,
    readbacks: 0,
    uploads: 0,
  };
  /** Compiled pipelines by `kernel|access`, then by the params' key (see paramsKey). */
  private pipelines = new Map<string, Map<string, GPUComputePipeline>>();
  private layouts = new Map<string, { bindGroup: GPUBindGroupLayout; pipeline: GPUPipelineLayout }>();
  private bindGroups = new Map<string, GPUBindGroup>();
  private stagingCache: GPUBuffer[] = [];
  /** Cached bind groups beyond this are all dropped at once (the cache starts over). */
  maxBindGroups = 8192;
  private arena: GPUBuffer;
  private arenaCpu = new Uint8Array(ARENA_BYTES);
  private arenaUsed = 0;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private batched = 0;
  /** Buffers bound by recorded-but-unsubmitted work: an upload into one must flush first. */
  private pendingBuffers = new Set<GPUBuffer>();
  private errors: string[] = [];
  private lastLabels: string[] = [];
  private lostReason: string | null = null;
  private destroyed = false;
  private profiler: Profiler | null = null;
  /** Runs before every readback and sync() (anomaly detection); see setReadCheck. */
  private readCheck: (() => Promise<void>) | null = null;
  private readChecking: Promise<void> | null = null;
  /** Set while capture() runs its function. */
  recorder: Recorder | null = null;
  /** Asks for a garbage collection when live GPU memory grows (collect.ts). */
  readonly growth: GrowthWatch;

  private constructor(
    private acquired: Acquired | null,
    readonly gpu: GPUDevice,
    adapter: GPUAdapter,
    backend: string,
    wait?: WaitMode,
    collect: (() => void) | null = null,
  ) {
    this.pool = new BufferPool(gpu);
    this.growth = new GrowthWatch(() => this.pool.counters.bytesLive, collect);
    this.pool.onCreate = () => this.growth.onCreate();
    this.pool.onRelease = () => this.growth.onRelease();
    this.arena = gpu.createBuffer({
      size: ARENA_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: 'wgrad uniform arena',
    });
    const info = adapter.info;
    const software = isSoftware(info);
    this.info = {
      backend,
      vendor: info.vendor,
      architecture: info.architecture,
      description: info.description,
      features: [...gpu.features].sort(),
      subgroupMinSize: (info as { subgroupMinSize?: number }).subgroupMinSize ?? 0,
      subgroupMaxSize: (info as { subgroupMaxSize?: number }).subgroupMaxSize ?? 0,
      limits: {
        maxStorageBuffersPerShaderStage: gpu.limits.maxStorageBuffersPerShaderStage,
        maxStorageBufferBindingSize: gpu.limits.maxStorageBufferBindingSize,
        maxBufferSize: gpu.limits.maxBufferSize,
        maxComputeWorkgroupsPerDimension: gpu.limits.maxComputeWorkgroupsPerDimension,
      },
      family: software ? 'software' : backend === 'browser' ? 'browser' : 'discrete',
      // Only Dawn's Node bindings poll with setImmediate (wait.ts); a browser needs nothing.
      wait: backend === 'browser' ? 'spin' : (wait ?? (software ? 'sleep' : 'spin')),
    };
    gpu.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      this.errors.push(ev.error.message);
    };
    void gpu.lost.then((lost) => {
      if (!this.destroyed && !this.lostReason) this.lostReason = `${lost.reason}: ${lost.message}`;
    });
  }

  static async create(opts: { backend?: 'vulkan' | 'opengles'; wait?: WaitMode } = {}): Promise<Device> {
    const acquired = await acquireAdapter(opts.backend);
    const { adapter } = acquired;
    const wanted: GPUFeatureName[] = ['shader-f16', 'subgroups', 'timestamp-query'];
    const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
    const limits = adapter.limits;
    const device = await adapter.requestDevice({
      requiredFeatures,
      requiredLimits: {
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxBufferSize: limits.maxBufferSize,
        maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
        maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
      },
    });
    return new Device(acquired, device, adapter, acquired.backend, opts.wait, await engineCollector());
  }

  stats(): Counters {
    return { ...this.counters, ...this.pool.counters, collections: this.growth.collections };
  }

  get isLost(): boolean {
    return this.lostReason !== null;
  }

  /** Neither destroyed by shutdown() nor lost. */
  get isUsable(): boolean {
    return !this.destroyed && this.lostReason === null;
  }

  /** Throws if the device can no longer run work, naming why. */
  checkUsable(op: string): void {
    if (this.destroyed)
      throw new Error(
        `wgrad: ${op}: the GPU device was destroyed (wgrad.shutdown()); tensors from it can no longer be used. Call await wgrad.init() to start a new one.`,
      );
    if (this.lostReason)
      throw new Error(
        `wgrad: ${op}: the GPU device was lost (${this.lostReason}). Tensors on it are gone; call await wgrad.init() for a new device and reload from your last checkpoint.`,
      );
  }

  private throwPendingErrors(): void {
    if (this.errors.length === 0) return;
    const msg = this.errors.join('\n');
    this.errors = [];
    throw new Error(`wgrad: GPU validation error (recent ops: ${this.lastLabels.join(', ')}):\n${msg}`);
  }

  private layoutFor(access: string) {
    let l = this.layouts.get(access);
    if (!l) {
      const entries: GPUBindGroupLayoutEntry[] = [
        {
          binding: 0,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: 'uniform', hasDynamicOffset: true, minBindingSize: UNIFORM_BYTES },
        },
      ];
      for (let i = 0; i < access.length; i++) {
        entries.push({
          binding: i + 1,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: access[i] === 'w' ? 'storage' : 'read-only-storage' },
        });
      }
      const bindGroup = this.gpu.createBindGroupLayout({ entries, label: `wgrad layout ${access}` });
      l = { bindGroup, pipeline: this.gpu.createPipelineLayout({ bindGroupLayouts: [bindGroup] }) };
      this.layouts.set(access, l);
    }
    return l;
  }

  private pipelineFor(spec: DispatchSpec): GPUComputePipeline {
    // Two levels, so that a long params key is never concatenated (and re-hashed) per dispatch.
    const outer = `${spec.kernel}|${spec.access}`;
    const key = spec.params ? paramsKey(spec.params) : '';
    let byParams = this.pipelines.get(outer);
    if (!byParams) this.pipelines.set(outer, (byParams = new Map()));
    let p = byParams.get(key);
    if (!p) {
      const code = fillTemplate(spec.kernel, spec.params ?? {});
      if (!(spec.uniforms instanceof ArrayBuffer)) {
        const differs = spec.uniforms.layout.mismatch(code);
        if (differs)
          throw new Error(`wgrad internal: ${spec.label}: the uniform layout does not match kernel '${spec.kernel}': ${differs}`);
      }
      const module = this.gpu.createShaderModule({ code, label: spec.kernel });
      p = this.gpu.createComputePipeline({
        layout: this.layoutFor(spec.access).pipeline,
        compute: { module, entryPoint: 'main' },
        label: `${spec.kernel} (${spec.label})`,
      });
      byParams.set(key, p);
      this.counters.pipelinesCompiled++;
    }
    return p;
  }

  private bindGroupFor(spec: DispatchSpec): GPUBindGroup {
    let key = spec.access;
    for (const b of spec.buffers) key += ',' + idOf(b);
    let bg = this.bindGroups.get(key);
    if (bg) {
      this.counters.bindGroupsReused++;
      return bg;
    }
    if (this.bindGroups.size > this.maxBindGroups) this.bindGroups.clear();
    bg = this.bindGroupWith(this.arena, spec.access, spec.buffers, spec.label);
    this.bindGroups.set(key, bg);
    return bg;
  }

  /** Records one compute dispatch. Nothing runs until the batch is submitted. */
  dispatch(spec: DispatchSpec): void {
    this.checkUsable(spec.label);
    if (!spec.ints) {
      for (const b of spec.buffers) {
        if (this.intBuffers.has(b))
          throw new Error(
            `${spec.label}: takes float32 tensors but was given an int32 tensor; convert it with .float() (or .to('float32')) first`,
          );
      }
    }
    if (spec.buffers.length !== spec.access.length)
      throw new Error(`wgrad internal: ${spec.label}: ${spec.buffers.length} buffers but access '${spec.access}'`);
    const uniforms = uniformBytes(spec.uniforms);
    if (uniforms.byteLength > UNIFORM_BYTES)
      throw new Error(`wgrad internal: ${spec.label}: uniforms of ${uniforms.byteLength} B exceed ${UNIFORM_BYTES} B`);
    const [x, y = 1, z = 1] = spec.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const maxWg = this.info.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxWg || y > maxWg || z > maxWg)
      throw new Error(`wgrad internal: ${spec.label}: dispatch [${x},${y},${z}] exceeds ${maxWg} workgroups per dimension`);
    if (this.arenaUsed + UNIFORM_BYTES > ARENA_BYTES || this.batched >= MAX_BATCH || this.profiler?.full) this.flush();
    const pipeline = this.pipelineFor(spec);
    const bindGroup = this.bindGroupFor(spec);
    const offset = this.arenaUsed;
    this.arenaCpu.set(new Uint8Array(uniforms), offset);
    this.arenaUsed += UNIFORM_BYTES;
    const prof = this.profiler;
    if (prof) this.closePass();
    const pass = prof ? this.openEncoder().beginComputePass({ timestampWrites: prof.nextWrites(spec.label) }) : this.openPass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup, [offset]);
    pass.dispatchWorkgroups(x, y, z);
    if (prof) pass.end();
    this.recorder?.dispatch(pipeline, spec, x, y, z);
    for (const b of spec.buffers) this.pendingBuffers.add(b);
    this.batched++;
    this.counters.dispatches++;
    this.lastLabels.push(spec.label);
    if (this.lastLabels.length > 8) this.lastLabels.shift();
  }

  private openEncoder(): GPUCommandEncoder {
    return (this.encoder ??= this.gpu.createCommandEncoder());
  }

  private openPass(): GPUComputePassEncoder {
    return (this.pass ??= this.openEncoder().beginComputePass());
  }

  private closePass(): void {
    this.pass?.end();
    this.pass = null;
  }

  /** Records a buffer-to-buffer copy (both offsets and size multiples of 4). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.checkUsable('copy');
    if (bytes === 0) return;
    this.closePass();
    this.openEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.recorder?.copy(src, srcOffset, dst, dstOffset, bytes);
    this.pendingBuffers.add(src).add(dst);
    this.batched++;
  }

  /** Submits everything recorded so far (uniform arena first, in queue order). */
  flush(): void {
    if (!this.encoder) return;
    this.closePass();
    if (this.arenaUsed > 0) this.gpu.queue.writeBuffer(this.arena, 0, this.arenaCpu, 0, this.arenaUsed);
    const collect = this.profiler?.resolve(this.encoder);
    this.gpu.queue.submit([this.encoder.finish()]);
    collect?.();
    this.counters.submits++;
    this.encoder = null;
    this.arenaUsed = 0;
    this.batched = 0;
    this.pendingBuffers.clear();
    this.throwPendingErrors();
  }

  /** Writes host data into a buffer, ordered after all work recorded so far. */
  upload(buffer: GPUBuffer, byteOffset: number, data: ArrayBufferView): void {
    this.checkUsable('upload');
    if (this.pendingBuffers.has(buffer)) this.flush();
    this.gpu.queue.writeBuffer(buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
    this.recorder?.upload(buffer, byteOffset, data);
    this.counters.uploads++;
  }

  /** A new bind group: `uniform` at binding 0 (the arena for dispatch(), a capture's own buffer for replays), storage buffers after. */
  bindGroupWith(uniform: GPUBuffer, access: string, buffers: GPUBuffer[], label: string): GPUBindGroup {
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: uniform, size: UNIFORM_BYTES } }];
    buffers.forEach((buffer, i) => entries.push({ binding: i + 1, resource: { buffer } }));
    this.counters.bindGroupsCreated++;
    return this.gpu.createBindGroup({ layout: this.layoutFor(access).bindGroup, entries, label });
  }

  /**
   * Capture hook (replay): submits pending work, then `encode`'s commands (`dispatches` of them
   * dispatches) in one command buffer of their own, and checks for validation errors.
   */
  submitRecorded(encode: (encoder: GPUCommandEncoder) => void, dispatches: number, label: string): void {
    this.checkUsable(label);
    this.flush();
    const encoder = this.gpu.createCommandEncoder();
    encode(encoder);
    this.gpu.queue.submit([encoder.finish()]);
    this.counters.submits++;
    this.counters.dispatches += dispatches;
    this.lastLabels.push(label);
    if (this.lastLabels.length > 8) this.lastLabels.shift();
    this.throwPendingErrors();
  }

  /**
   * Installs a check awaited before every readback and sync(), or removes it (null). Anomaly
   * detection (autograd/anomaly.ts) reads its flags here, so an error surfaces at the first read
   * after the op that caused it. Concurrent reads wait for the same check.
   */
  setReadCheck(fn: (() => Promise<void>) | null): void {
    this.readCheck = fn;
  }

  private async runReadCheck(): Promise<void> {
    while (this.readCheck) {
      if (this.readChecking) {
        await this.readChecking; // then check again: work recorded meanwhile is not covered yet
        continue;
      }
      this.readChecking = this.readCheck().finally(() => (this.readChecking = null));
      return this.readChecking;
    }
  }

  /** Copies `bytes` from a buffer back to the host; submits pending work. */
  async read(buffer: GPUBuffer, byteOffset: number, bytes: number, label: string): Promise<ArrayBuffer> {
    this.checkUsable(label);
    this.recorder?.readback(label);
    await this.runReadCheck();
    return this.readUnchecked(buffer, byteOffset, bytes, label);
  }

  /** read() without the read check (the check's own readback uses it). */
  async readUnchecked(buffer: GPUBuffer, byteOffset: number, bytes: number, label: string): Promise<ArrayBuffer> {
    const out = new ArrayBuffer(bytes);
    await this.readInto(buffer, byteOffset, new Uint8Array(out), label, false);
    return out;
  }

  /**
   * Copies `into.byteLength` bytes from a buffer into a host array the caller owns (read() without
   * allocating: large repeated readbacks, like the kNN monitor's similarity chunks, reuse theirs).
   */
  async readInto(buffer: GPUBuffer, byteOffset: number, into: ArrayBufferView, label: string, check = true): Promise<void> {
    this.checkUsable(label);
    this.recorder?.readback(label);
    if (check) await this.runReadCheck();
    const bytes = into.byteLength;
    const staging = this.takeStaging(bytes, label);
    let mapped = false;
    try {
      if (bytes > 0) this.copy(buffer, byteOffset, staging, 0, bytes);
      this.flush();
      this.counters.readbacks++;
      try {
        await this.wait(staging.mapAsync(GPUMapMode.READ, 0, stagingSize(bytes)));
        mapped = true;
      } catch (e) {
        this.checkUsable(label);
        this.throwPendingErrors();
        throw new Error(`wgrad: ${label}: reading back from the GPU failed: ${(e as Error).message}`);
      }
      this.throwPendingErrors();
      new Uint8Array(into.buffer, into.byteOffset, bytes).set(new Uint8Array(staging.getMappedRange(0, bytes)));
    } finally {
      if (mapped) staging.unmap();
      this.returnStaging(staging);
    }
  }

  /**
   * A MAP_READ buffer of at least `bytes`: a cached one when it fits. Creating one per readback
   * costs more than the copy on lavapipe (fresh memory, zero-filled), so the last few are kept.
   */
  private takeStaging(bytes: number, label: string): GPUBuffer {
    const size = stagingSize(bytes);
    const i = this.stagingCache.findIndex((b) => b.size >= size && b.size <= 2 * size);
    if (i >= 0) return this.stagingCache.splice(i, 1)[0];
    return this.gpu.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: `readback ${label}` });
  }

  private returnStaging(staging: GPUBuffer): void {
    if (this.destroyed || this.lostReason || staging.size > MAX_STAGING_CACHE) {
      staging.destroy();
      return;
    }
    this.stagingCache.unshift(staging);
    let total = 0;
    this.stagingCache = this.stagingCache.filter((b) => {
      total += b.size;
      if (total <= MAX_STAGING_CACHE) return true;
      b.destroy();
      return false;
    });
  }

  /** Starts per-dispatch GPU timing (needs the adapter's timestamp-query feature). */
  startProfile(): void {
    if (!this.gpu.features.has('timestamp-query')) {
      throw new Error(
        `wgrad.profile: this adapter (${this.info.backend}) has no 'timestamp-query' feature, so kernels cannot be timed on the GPU`,
      );
    }
    this.flush();
    this.profiler = new Profiler(this.gpu, (p) => this.wait(p));
  }

  /** Stops timing and returns nanoseconds and calls per dispatch label. */
  async stopProfile(): Promise<Map<string, { calls: number; ns: number }>> {
    const prof = this.profiler;
    if (!prof) throw new Error('wgrad.profile: no profile is running');
    this.flush();
    this.profiler = null;
    await prof.done();
    return prof.totals;
  }

  /** Changes how later waits wait (InitOptions.wait); in a browser there is no polling to change. */
  setWaitMode(mode: WaitMode): void {
    if (this.info.backend !== 'browser') this.info.wait = mode;
  }

  /**
   * Awaits a promise of this device (onSubmittedWorkDone, mapAsync) the way info.wait says: in
   * 'sleep' mode without Dawn's busy polling (wait.ts). Benchmarks use it for peers on the device.
   */
  wait<T>(promise: Promise<T>): Promise<T> {
    return gpuWait(promise, this.info.wait);
  }

  /** Waits for all submitted work (used by benchmarks). */
  async sync(): Promise<void> {
    this.checkUsable('sync');
    await this.runReadCheck();
    this.flush();
    await this.wait(this.gpu.queue.onSubmittedWorkDone());
    this.throwPendingErrors();
  }

  /** Destroys pooled buffers to return memory; safe at any time. */
  trim(): void {
    this.flush();
    this.bindGroups.clear();
    this.pool.trim();
    for (const b of this.stagingCache.splice(0)) b.destroy();
  }

  /**
   * Test hook: loses the device as a driver reset would (the GPUDevice is destroyed, but not by
   * wgrad), so every later use fails with checkUsable's "the GPU device was lost" error.
   */
  simulateLoss(reason = 'simulated device loss (test hook)'): void {
    if (this.destroyed || this.lostReason) return;
    this.lostReason = reason;
    this.gpu.destroy();
  }

  destroy(): void {
    if (this.destroyed) return;
    try {
      if (!this.lostReason) this.flush();
    } catch {
      /* errors of the last batch are moot once the device is gone */
    }
    this.destroyed = true;
    this.bindGroups.clear();
    this.pipelines.clear();
    this.stagingCache = [];
    this.gpu.destroy();
    this.acquired = null; // lets the Dawn instance go only after the device is destroyed
    bufferIds = new WeakMap();
  }
}

/**
 * GPU timing per dispatch: while profiling, every dispatch gets its own compute pass whose
 * beginning and end write timestamps into a query set; each flush resolves them and reads them
 * back asynchronously. Costs one pass per dispatch, so use it to find hot kernels, not to time
 * whole steps.
 */
class Profiler {
  private static readonly CAPACITY = 512; // dispatches per flush
  private querySet: GPUQuerySet;
  private labels: string[] = [];
  private pending: Promise<void>[] = [];
  readonly totals = new Map<string, { calls: number; ns: number }>();

  constructor(
    private gpu: GPUDevice,
    private wait: <T>(p: Promise<T>) => Promise<T>,
  ) {
    this.querySet = gpu.createQuerySet({ type: 'timestamp', count: 2 * Profiler.CAPACITY });
  }

  get full(): boolean {
    return this.labels.length >= Profiler.CAPACITY;
  }

  nextWrites(label: string): GPUComputePassTimestampWrites {
    const i = this.labels.length;
    this.labels.push(label);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Records the resolve into `encoder`; the returned function starts the readback after submit. */
  resolve(encoder: GPUCommandEncoder): (() => void) | undefined {
    const labels = this.labels;
    if (labels.length === 0) return undefined;
    this.labels = [];
    const bytes = labels.length * 16;
    const resolved = this.gpu.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const readback = this.gpu.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.resolveQuerySet(this.querySet, 0, labels.length * 2, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, readback, 0, bytes);
    return () => {
      this.pending.push(
        this.wait(readback.mapAsync(GPUMapMode.READ)).then(() => {
          const t = new BigUint64Array(readback.getMappedRange());
          labels.forEach((label, i) => {
            const e = this.totals.get(label) ?? { calls: 0, ns: 0 };
            e.calls++;
            e.ns += Number(t[2 * i + 1] - t[2 * i]);
            this.totals.set(label, e);
          });
          readback.unmap();
          readback.destroy();
          resolved.destroy();
        }),
      );
    };
  }

  async done(): Promise<void> {
    await Promise.all(this.pending);
    this.querySet.destroy();
  }
}
