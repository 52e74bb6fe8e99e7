// Buffer pool. Every tensor buffer has usage STORAGE|COPY_SRC|COPY_DST and a size rounded up to a
// size class, so a freed buffer can serve any later request of the same class. Freed buffers are
// reused as-is: work that still reads them is already recorded earlier in the same command stream,
// and WebGPU executes that stream in order, so a later writer can never overtake an earlier reader.

export interface PoolCounters {
  buffersCreated: number;
  buffersReused: number;
  bytesLive: number; // held by tensors
  bytesPooled: number; // freed, waiting for reuse
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
  readonly counters: PoolCounters = { buffersCreated: 0, buffersReused: 0, bytesLive: 0, bytesPooled: 0 };
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
      return reused;
    }
    const buffer = this.device.createBuffer({
      size,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    this.counters.buffersCreated++;
    this.counters.bytesLive += size;
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    const size = buffer.size;
    this.counters.bytesLive -= size;
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
