// capture(fn) / replay(): a whole training step recorded once (dispatches, copies, uploads) and
// replayed as one command buffer, in the spirit of CUDA graphs, so that no op code, autograd or
// uniform packing runs again. The rules the recording imposes, which the code below enforces:
// every buffer a command names is pinned in the pool until dispose(); tensors that existed before
// fn are updated in place (disposing one makes replay() throw); everything decided on the host
// (uniforms, uploads made inside fn) is frozen at capture time, so re-capture when it changes.
// The design and its costs: docs/ARCHITECTURE.md, "Whole-step capture".

import { uniformBytes } from './uniform-layout.ts';
import type { Device, DispatchSpec, Recorder } from './device.ts';
import { UNIFORM_BYTES } from './device.ts';
import type { Tensor } from '../tensor.ts';
import { device as currentDevice } from '../runtime.ts';

/** Options of capture(). */
export interface CaptureOptions {
  /**
   * Tensors whose contents change between replays (a batch, its labels): created before capture,
   * written in place between replays with `tensor.writeData(values)`, never written inside fn.
   */
  inputs?: Tensor[];
}

interface DispatchCmd {
  pipeline: GPUComputePipeline;
  access: string;
  buffers: GPUBuffer[];
  label: string;
  x: number;
  y: number;
  z: number;
  /** Index of its 256-byte uniform slot. */
  slot: number;
  bindGroup?: GPUBindGroup;
  offsets?: number[];
}
interface CopyCmd {
  src: GPUBuffer | null; // null: the capture's constants buffer (an upload)
  srcOffset: number;
  dst: GPUBuffer;
  dstOffset: number;
  bytes: number;
}
type Cmd = DispatchCmd | CopyCmd;

let recording: Recorder | null = null;
const live = new Set<CapturedStep<unknown>>();

/**
 * A recorded step (see capture()): `replay()` runs it again, `result` holds fn's return value
 * (its tensors are rewritten by every replay), `dispose()` returns the pinned buffers.
 *
 * @example
 * const w = keep(randn([4, 4]));
 * const step: CapturedStep<Tensor> = capture(() => tidy(() => w.matmul(w).relu().sum()));
 * step.replay();
 * console.log(step.dispatches, await step.result.item());
 * step.dispose();
 */
export class CapturedStep<T> {
  /** What fn returned; tensors in it hold the values of the latest run (capture or replay). */
  readonly result: T;
  /** Number of compute dispatches one replay submits. */
  readonly dispatches: number;
  private disposed = false;
  private invalid: string | null = null;
  private uniformBuffer: GPUBuffer | null = null;
  private constants: GPUBuffer | null = null;

  /** @internal use capture() */
  constructor(
    private readonly device: Device,
    private readonly cmds: Cmd[],
    uniforms: Uint8Array,
    uploads: Uint8Array,
    private readonly pinned: Set<GPUBuffer>,
    private readonly external: Set<GPUBuffer>,
    private readonly inputs: Tensor[],
    result: T,
  ) {
    this.result = result;
    const gpu = device.gpu;
    const dispatchCmds = cmds.filter((c): c is DispatchCmd => 'pipeline' in c);
    this.dispatches = dispatchCmds.length;
    if (uniforms.byteLength > 0) {
      const ub = (this.uniformBuffer = gpu.createBuffer({
        size: uniforms.byteLength,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        label: 'wgrad captured uniforms',
      }));
      gpu.queue.writeBuffer(ub, 0, uniforms);
      // One bind group per distinct (layout, buffers), bound at each dispatch's own uniform slot.
      const groups = new Map<string, GPUBindGroup>();
      const ids = new Map<GPUBuffer, number>();
      for (const c of dispatchCmds) {
        let key = c.access;
        for (const b of c.buffers) {
          let id = ids.get(b);
          if (id === undefined) ids.set(b, (id = ids.size));
          key += ',' + id;
        }
        let bg = groups.get(key);
        if (!bg) groups.set(key, (bg = device.bindGroupWith(ub, c.access, c.buffers, c.label)));
        c.bindGroup = bg;
        c.offsets = [c.slot * UNIFORM_BYTES];
      }
    }
    if (uploads.byteLength > 0) {
      const cb = (this.constants = gpu.createBuffer({
        size: Math.max(16, uploads.byteLength),
        usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
        label: 'wgrad captured uploads',
      }));
      gpu.queue.writeBuffer(cb, 0, uploads);
    }
    for (const b of pinned) device.pool.pin(b);
    live.add(this as CapturedStep<unknown>);
  }

  /** Called by the pool when a pinned buffer's last tensor lets go of it. */
  released(buffer: GPUBuffer): void {
    if (this.external.has(buffer)) {
      this.invalid ??=
        'a tensor that the captured step reads or updates in place (a parameter, optimizer state, a queue, an input) was disposed after capture';
    }
  }

  /** Why replay() cannot run, or null. */
  private problem(): string | null {
    if (this.disposed) return 'this CapturedStep was disposed';
    const bad = this.inputs.findIndex((t) => t.isDisposed || t.storage.freed);
    if (bad >= 0) return `input ${bad} (tensor #${this.inputs[bad].id}) was disposed after capture`;
    return this.invalid;
  }

  /**
   * Runs the recorded step again: one command buffer, one submit, the frozen uniforms and
   * uploads of capture time, the current contents of every input and persistent tensor.
   */
  replay(): void {
    const why = this.problem();
    if (why) throw new Error(`wgrad: CapturedStep.replay(): ${why}; capture the step again`);
    const cmds = this.cmds;
    const constants = this.constants;
    this.device.submitRecorded(
      (encoder) => {
        let pass: GPUComputePassEncoder | null = null;
        let pipeline: GPUComputePipeline | null = null;
        for (let i = 0; i < cmds.length; i++) {
          const c = cmds[i];
          if ('pipeline' in c) {
            if (pass === null) pass = encoder.beginComputePass();
            if (c.pipeline !== pipeline) pass.setPipeline((pipeline = c.pipeline));
            pass.setBindGroup(0, c.bindGroup!, c.offsets!);
            pass.dispatchWorkgroups(c.x, c.y, c.z);
          } else {
            if (pass !== null) {
              pass.end();
              pass = null;
              pipeline = null;
            }
            encoder.copyBufferToBuffer(c.src ?? constants!, c.srcOffset, c.dst, c.dstOffset, c.bytes);
          }
        }
        pass?.end();
      },
      this.dispatches,
      'CapturedStep.replay()',
    );
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Returns the pinned buffers to the pool (idempotent); the result's tensors stay usable. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    live.delete(this as CapturedStep<unknown>);
    // Work recorded later that reuses these buffers runs after every replay (one in-order queue);
    // destroy() frees the capture's own buffers only once submitted replays are done with them.
    if (!this.device.isLost) for (const b of this.pinned) this.device.pool.unpin(b);
    this.uniformBuffer?.destroy();
    this.constants?.destroy();
  }
}

/**
 * Runs fn once (eagerly, synchronously) while recording every GPU command it issues, and returns
 * a CapturedStep whose replay() re-submits them as one command buffer, with little JavaScript
 * per dispatch. Parameters, optimizer state and `inputs` are updated in place by each replay, as
 * the eager step would; fn's returned tensors are rewritten by each replay. Scalars (learning
 * rate, momentum, first-step flags, pointers) and data uploaded inside fn are frozen: re-capture
 * when they change. Readbacks (item(), toArray()) inside fn throw.
 *
 * @example
 * const model = new nn.Linear(4, 3);
 * const opt = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
 * const x = keep(randn([8, 4])), y = keep(tensor([0, 1, 2, 0, 1, 2, 0, 1], undefined, { dtype: 'int32' }));
 * const trainStep = () => {
 *   const loss = crossEntropy(model.forward(x), y);
 *   loss.backward();
 *   opt.step();
 *   opt.zeroGrad();
 *   return loss;
 * };
 * trainStep().dispose(); // warm-up: SGD's first step is special
 * const step = capture(trainStep, { inputs: [x, y] });
 * for (let i = 0; i < 3; i++) {
 *   x.writeData(new Float32Array(32).fill(i)); // the next batch, in place
 *   step.replay();
 *   console.log(await step.result.item());
 * }
 * step.dispose();
 */
export function capture<T>(fn: () => T, opts: CaptureOptions = {}): CapturedStep<T> {
  const dev = currentDevice();
  if (recording || dev.recorder) throw new Error('wgrad.capture: a capture is already running; captures cannot nest');
  dev.checkUsable('capture');
  const inputs = opts.inputs ?? [];
  inputs.forEach((t, i) => t.assertAlive(`capture (input ${i})`));
  const inputBuffers = new Set(inputs.map((t) => t.storage.buffer));

  const cmds: Cmd[] = [];
  const uniformChunks: Uint8Array[] = [];
  const uploadChunks: Uint8Array[] = [];
  let uploadBytes = 0;
  const used = new Set<GPUBuffer>();
  const acquired = new Set<GPUBuffer>();
  let error: string | null = null;
  const fail = (msg: string): never => {
    error ??= msg;
    throw new Error(msg);
  };

  const recorder: Recorder = {
    dispatch(pipeline: GPUComputePipeline, spec: DispatchSpec, x: number, y: number, z: number) {
      const slot = new Uint8Array(UNIFORM_BYTES);
      slot.set(new Uint8Array(uniformBytes(spec.uniforms)));
      cmds.push({ pipeline, access: spec.access, buffers: [...spec.buffers], label: spec.label, x, y, z, slot: uniformChunks.length });
      uniformChunks.push(slot);
      for (const b of spec.buffers) used.add(b);
    },
    copy(src, srcOffset, dst, dstOffset, bytes) {
      cmds.push({ src, srcOffset, dst, dstOffset, bytes });
      used.add(src).add(dst);
    },
    upload(buffer, byteOffset, data) {
      if (inputBuffers.has(buffer)) {
        fail(
          'wgrad.capture: fn writes into one of its inputs; write inputs before replay() (tensor.writeData), outside the captured function, or the replay would overwrite them with the captured data',
        );
      }
      if (data.byteLength % 4 !== 0 || byteOffset % 4 !== 0)
        fail(`wgrad.capture: an upload of ${data.byteLength} B at offset ${byteOffset} is not 4-byte aligned and cannot be replayed`);
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
      cmds.push({ src: null, srcOffset: uploadBytes, dst: buffer, dstOffset: byteOffset, bytes: bytes.byteLength });
      uploadChunks.push(bytes);
      uploadBytes += bytes.byteLength;
      used.add(buffer);
    },
    readback(label) {
      fail(
        `wgrad.capture: ${label}() reads a value back from the GPU inside the captured function; readbacks cannot be captured. Read results after capture() or replay() instead (e.g. await step.result.item())`,
      );
    },
  };

  let result: T;
  dev.recorder = recording = recorder;
  dev.pool.onAcquire = (b) => void acquired.add(b);
  try {
    result = fn();
  } finally {
    dev.recorder = recording = null;
    dev.pool.onAcquire = null;
  }
  if (result instanceof Promise) {
    result.catch(() => undefined); // its failure is reported here
    throw new Error(
      `wgrad.capture: fn returned a Promise; the captured function must be synchronous (no await, no readbacks)${error ? `: ${error}` : ''}`,
    );
  }
  if (error) throw new Error(error);
  const unused = inputs.findIndex((t) => !used.has(t.storage.buffer));
  if (unused >= 0) throw new Error(`wgrad.capture: input ${unused} (tensor #${inputs[unused].id}) is not used by the captured step`);

  // Buffers from before fn that tensors still hold: used in place, must not be disposed while the capture lives.
  const external = new Set<GPUBuffer>();
  for (const b of used) if (!acquired.has(b)) external.add(b);
  const uniforms = concatBytes(uniformChunks, uniformChunks.length * UNIFORM_BYTES);
  const uploads = concatBytes(uploadChunks, uploadBytes);
  const step = new CapturedStep(dev, cmds, uniforms, uploads, used, external, inputs, result);
  dev.pool.onPinnedRelease ??= notifyReleased;
  // A buffer from before fn that fn itself released was parked by pin(): the step owns it now.
  for (const b of external) if (dev.pool.isParked(b)) external.delete(b);
  return step;
}

function notifyReleased(buffer: GPUBuffer): void {
  for (const s of live) s.released(buffer);
}

function concatBytes(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
