// Buffer pool. Every tensor buffer has usage STORAGE|COPY_SRC|COPY_DST and a size rounded up to a
// size class, so a freed buffer can serve any later request of the same class. Freed buffers are
// reused as-is: work that still reads them is already recorded earlier in the same command stream,
// and WebGPU executes that stream in order, so a later writer can never overtake an earlier reader.
// Captured steps (capture.ts) pin the buffers their recorded commands use: a pinned buffer whose
// tensor is released is parked (kept out of the free lists) until the last capture using it goes.

export interface PoolCounters {
  buffersCreated: number;
  buffersReused: number;
  bytesLive: number; // held by tensors
  bytesPooled: number; // freed, waiting for reuse
  bytesPinned: number; // freed, but kept for a captured step's replays (capture.ts)
}

/** Size classes: multiples of 256 B up to 4 KiB, then 8 steps per power of two (at most 12.5% waste). */
export function sizeClass(bytes: number): number {
  const b = Math.max(16, bytes);
  if (b <= 4096) return Math.ceil(b / 256) * 256;
  const p = 2 ** Math.floor(Math.log2(b));
  const step = p / 8;
  return Math.ceil(b / step) * step;
}

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  readonly counters: PoolCounters = { buffersCreated: 0, buffersReused: 0, bytesLive: 0, bytesPooled: 0, bytesPinned: 0 };
  /** Number of live captures using each pinned buffer. */
  private pins = new Map<GPUBuffer, number>();
  /** Pinned buffers no tensor holds any more. */
  private parked = new Set<GPUBuffer>();
  /** Capture hooks: told of every buffer handed out, and of every pinned buffer released. */
  onAcquire: ((buffer: GPUBuffer) => void) | null = null;
  onPinnedRelease: ((buffer: GPUBuffer) => void) | null = null;
  /** Told after a new buffer is created and after a release (collect.ts watches live bytes here). */
  onCreate: (() => void) | null = null;
  onRelease: (() => void) | null = null;
  /** Pooled bytes above this are destroyed instead of kept (after the caller has flushed pending work). */
  maxPooledBytes = 1 << 30;

  constructor(private device: GPUDevice) {}

  acquire(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.free.get(size);
    const reused = list?.pop();
    if (reused) {
      this.counters.buffersReused++;
      this.counters.bytesPooled -= size;
      this.counters.bytesLive += size;
      this.onAcquire?.(reused);
      return reused;
    }
    const buffer = this.device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    this.counters.buffersCreated++;
    this.counters.bytesLive += size;
    this.onAcquire?.(buffer);
    this.onCreate?.();
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    const size = buffer.size;
    this.counters.bytesLive -= size;
    this.onRelease?.();
    if (this.pins.has(buffer)) {
      this.parked.add(buffer);
      this.counters.bytesPinned += size;
      this.onPinnedRelease?.(buffer);
      return;
    }
    this.toFreeList(buffer);
  }

  /** Keeps `buffer` out of the free lists until as many unpin() calls (a free one is taken out now). */
  pin(buffer: GPUBuffer): void {
    this.pins.set(buffer, (this.pins.get(buffer) ?? 0) + 1);
    const list = this.free.get(buffer.size);
    const i = list ? list.indexOf(buffer) : -1;
    if (i < 0) return;
    list!.splice(i, 1);
    this.counters.bytesPooled -= buffer.size;
    this.parked.add(buffer);
    this.counters.bytesPinned += buffer.size;
  }

  unpin(buffer: GPUBuffer): void {
    const n = (this.pins.get(buffer) ?? 0) - 1;
    if (n > 0) {
      this.pins.set(buffer, n);
      return;
    }
    this.pins.delete(buffer);
    if (!this.parked.delete(buffer)) return;
    this.counters.bytesPinned -= buffer.size;
    this.toFreeList(buffer);
  }

  /** Whether a pinned buffer has been released by its tensors. */
  isParked(buffer: GPUBuffer): boolean {
    return this.parked.has(buffer);
  }

  private toFreeList(buffer: GPUBuffer): void {
    const size = buffer.size;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buffer);
    this.counters.bytesPooled += size;
  }

  /** Destroys pooled buffers. Only call with no recorded-but-unsubmitted work (the device flushes first). */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.counters.bytesPooled = 0;
  }
}
