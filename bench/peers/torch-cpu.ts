// PyTorch on the CPU as a peer of `npm run bench -- --peers`: one python process
// (bench/peers/torch_cpu.py) runs the workloads, driven over JSON lines. Its candidate's step()
// only counts iterations and settle() asks python to run them, so that bench/run.ts times it
// round-robin with wgrad's candidates like every other peer (the reply round trip, well under a
// millisecond, is spread over a sample of ≥ 150 ms). CPU time is python's own, from its replies.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const TORCH_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'torch_cpu.py');
/** The system python first (Debian's python3-torch), then whatever python3 is on PATH. */
const PYTHONS = ['/usr/bin/python3', 'python3'];

interface Reply {
  id?: number;
  error?: string;
  handle?: number;
  info?: Record<string, number>;
  value?: number | null;
  cpu_ms?: number;
}

export interface TorchWork {
  step: () => void;
  settle: () => Promise<void>;
  /** Python's CPU time so far, in ms, as of its last reply (to any workload: they share the process). */
  cpuMs: () => number;
  info: Record<string, number>;
  /** The value (loss or sum) of the last iteration run. */
  value: () => number | null;
  dispose: () => Promise<void>;
}

export class TorchCpu {
  private constructor(
    private proc: ChildProcess,
    private lines: AsyncIterator<string>,
    readonly version: string,
    readonly threads: number,
  ) {}
  private nextId = 1;
  private queue: Promise<unknown> = Promise.resolve();
  private cpuMs = 0;

  /** Starts the python process, or says why there is no PyTorch peer (never throws). */
  static async start(): Promise<TorchCpu | string> {
    const why: string[] = [];
    for (const py of PYTHONS) {
      // A quick probe first, so that a python without torch costs no long-lived process.
      const probe = spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 });
      if (probe.error || probe.status !== 0) {
        why.push(`${py}: ${probe.error ? probe.error.message : 'import torch failed'}`);
        continue;
      }
      const proc = spawn(py, [TORCH_SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] });
      const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
      const first = await lines.next();
      const hello = first.done ? { ready: false, why: 'exited before saying hello' } : JSON.parse(first.value);
      if (hello.ready) return new TorchCpu(proc, lines, hello.torch, hello.threads);
      proc.kill();
      why.push(`${py}: ${hello.why}`);
    }
    return `no python3 with torch (${why.join('; ')}); Debian: apt install python3-torch`;
  }

  /** One request and its reply; requests are serialised (python answers them in order). */
  request(msg: Record<string, unknown>): Promise<Reply> {
    const id = this.nextId++;
    const run = this.queue.then(async () => {
      this.proc.stdin!.write(JSON.stringify({ id, ...msg }) + '\n');
      const r = await this.lines.next();
      if (r.done) throw new Error(`torch peer: python exited (code ${this.proc.exitCode}) before answering ${JSON.stringify(msg)}`);
      const reply = JSON.parse(r.value) as Reply;
      if (reply.id !== id) throw new Error(`torch peer: reply ${r.value} does not answer request ${id}`);
      this.cpuMs = reply.cpu_ms ?? this.cpuMs;
      if (reply.error) throw new Error(`torch peer: ${msg.op} ${msg.workload ?? ''}: ${reply.error}`);
      return reply;
    });
    this.queue = run.catch(() => {});
    return run;
  }

  /** Sets up one workload of torch_cpu.py (args as its function takes them). */
  async work(workload: string, args: Record<string, unknown>): Promise<TorchWork> {
    const { handle, info } = await this.request({ op: 'setup', workload, args });
    let pending = 0;
    let value: number | null = null;
    return {
      step: () => void pending++,
      settle: async () => {
        const n = pending;
        pending = 0;
        if (n === 0) return;
        const r = await this.request({ op: 'run', handle, iters: n });
        value = r.value ?? null;
      },
      cpuMs: () => this.cpuMs,
      info: info ?? {},
      value: () => value,
      dispose: async () => void (await this.request({ op: 'dispose', handle })),
    };
  }

  close(): void {
    this.proc.stdin!.end();
  }
}
