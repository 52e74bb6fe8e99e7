// Timing shared by the Node harness (bench/run.ts) and the browser page (bench/web/page.ts):
// every candidate is warmed up (pipeline compilation, buffer pools), then all are sampled
// round-robin, so that a change in machine load between samples hits every candidate alike and
// the ratios between them stay meaningful. A sample times N iterations closed by `settle`.

export interface Timing {
  ms: number; // median per iteration
  minMs: number;
  cpu: number; // CPU time / wall time (≈ worker threads kept busy); 0 where it cannot be read
  iters: number;
  samples: number;
  firstMs: number; // the warm-up iteration, pipeline compilation included
}
export type Outcome = Timing | string; // a string says why there is no timing

/** One thing to time: `step` records an iteration, `settle` waits until it has run. */
export interface Candidate {
  step: () => void;
  settle: () => Promise<void>;
  /** Runs before each sample (switches the TensorFlow.js backend). */
  enter?: () => Promise<void>;
  /** Expected time per iteration, if known: a candidate expected to be too slow is skipped. */
  estimateMs?: number;
  /** CPU time so far in ms, where the work runs in another process (PyTorch); else MeasureOptions.cpuMs. */
  cpuMs?: () => number;
}

/** A peer library's workload: one iteration, and what frees its tensors. */
export interface PeerWork {
  step: () => void;
  dispose: () => void;
}

export interface MeasureOptions {
  samples: number;
  /** Aim for samples at least this long. */
  sampleMs: number;
  /** An iteration slower than this is timed once. */
  slowMs: number;
  /** One slower than this (measured or estimated) is skipped; read at each call. */
  skipMs: () => number;
  /** CPU time so far in ms (Node: process.cpuUsage); none in a browser. */
  cpuMs?: () => number;
}

export const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0];
export const median = (x: number[]) => [...x].sort((a, b) => a - b)[x.length >> 1];

/** Median time per iteration of each candidate, warmed up first and then sampled round-robin. */
export async function measureAll(cands: Candidate[], o: MeasureOptions): Promise<Outcome[]> {
  const skipMs = o.skipMs();
  const out: Outcome[] = cands.map(() => 'not run');
  const plans: ({ iters: number; samples: number; firstMs: number; wall: number[]; cpu: number[] } | null)[] = cands.map(() => null);
  for (const [i, c] of cands.entries()) {
    if (c.estimateMs !== undefined && c.estimateMs > skipMs) {
      out[i] = `skipped (≈${(c.estimateMs / 1000).toFixed(0)} s per iteration)`;
      continue;
    }
    try {
      await c.enter?.();
      const tw = performance.now();
      c.step(); // warm-up
      await c.settle();
      const firstMs = performance.now() - tw;
      const t0 = performance.now();
      c.step();
      await c.settle();
      const once = performance.now() - t0;
      if (once > skipMs) out[i] = `skipped (${(once / 1000).toFixed(0)} s per iteration)`;
      else {
        const iters = Math.max(1, Math.min(200, Math.round(o.sampleMs / Math.max(once, 0.01))));
        plans[i] = { iters, samples: once > o.slowMs ? 1 : o.samples, firstMs, wall: [], cpu: [] };
      }
    } catch (e) {
      out[i] = `failed: ${firstLine(e)}`;
    }
  }
  for (let s = 0; s < o.samples; s++) {
    for (const [i, c] of cands.entries()) {
      const p = plans[i];
      if (!p || s >= p.samples) continue;
      try {
        await c.enter?.();
        const cpuMs = c.cpuMs ?? o.cpuMs ?? (() => 0);
        const c0 = cpuMs();
        const t0 = performance.now();
        for (let k = 0; k < p.iters; k++) c.step();
        await c.settle();
        const w = performance.now() - t0;
        p.wall.push(w / p.iters);
        p.cpu.push((cpuMs() - c0) / w);
      } catch (e) {
        out[i] = `failed: ${firstLine(e)}`;
        plans[i] = null;
      }
    }
  }
  for (const [i, p] of plans.entries()) {
    if (p)
      out[i] = {
        ms: median(p.wall),
        minMs: Math.min(...p.wall),
        cpu: median(p.cpu),
        iters: p.iters,
        samples: p.samples,
        firstMs: p.firstMs,
      };
  }
  return out;
}
