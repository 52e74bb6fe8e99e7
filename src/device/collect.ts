// GrowthWatch: V8 collects by its own heap and cannot see the GPU memory behind unreachable
// tensors, so a loop written without tidy() would grow GPU memory by the step. The pool reports
// buffer creations and releases; when live bytes have doubled (by at least 32 MiB) since the last
// collection, the watch asks the engine for a full one, and the tensors' finalizers give the buffers
// back. When what survives collections keeps growing (the tensors are still reachable), or no
// collection can be asked for (browsers), it warns once, naming tidy(); a program that calls tidy()
// itself is not warned. The design and its measurements: docs/ARCHITECTURE.md, "Lifetimes".

/** Where the warning points the user. */
export const MEMORY_DOC = "tidy() in the README's 'Memory' section (and docs/ARCHITECTURE.md, 'Lifetimes')";

const MIB = 1 << 20;

export class GrowthWatch {
  /** Live bytes above which the next collection is asked for. */
  private limit: number;
  /** The fewest live bytes seen since the last collection (what it gave back shows here). */
  private low: number;
  /** `low` of the period before, and how many periods in a row ended higher than it began. */
  private previousLow: number;
  private grewInARow = 0;
  /** Collections asked for, and whether the warning was printed (stats(), tests). */
  collections = 0;
  warned = false;
  /** Whether the program has called tidy() since this device started (set by runtime.ts). */
  managed: () => boolean = () => false;

  constructor(
    private readonly liveBytes: () => number,
    private readonly collect: (() => void) | null,
    private readonly minStep = 32 * MIB,
    private readonly warn: (message: string) => void = (m) => console.warn(m),
  ) {
    this.low = this.previousLow = liveBytes();
    this.limit = this.low + minStep;
  }

  /** Called by the pool when it creates a buffer (never for a reused one, so a steady loop costs nothing). */
  onCreate(): void {
    const live = this.liveBytes();
    if (live < this.limit) return;
    if (this.low > this.previousLow + this.minStep / 2) this.grewInARow++;
    else this.grewInARow = 0;
    this.previousLow = this.low;
    this.low = live;
    this.limit = live + Math.max(this.minStep, live);
    if (!this.collect) {
      this.warnOnce(live, 'and wgrad cannot ask this JavaScript engine for a garbage collection');
      return;
    }
    if (this.grewInARow >= 2) this.warnOnce(live, 'although unreachable tensors were collected');
    this.collections++;
    this.collect(); // the finalizers give the buffers back on a later task: onRelease sees them
  }

  /** Called by the pool when a buffer is released: lowers the limit to follow what was given back. */
  onRelease(): void {
    const live = this.liveBytes();
    if (live >= this.low) return;
    this.low = live;
    this.limit = live + Math.max(this.minStep, live);
  }

  private warnOnce(live: number, why: string): void {
    if (this.warned || this.managed()) return;
    this.warned = true;
    this.warn(
      `wgrad: live GPU memory keeps growing (${(live / MIB).toFixed(1)} MiB now) ${why}. If these tensors are not ` +
        'meant to stay (e.g. a loss kept in an array holds its whole graph), keep numbers across steps ' +
        '(await loss.item()), not tensors, or wrap each step in tidy(() => { … }), which frees what the step ' +
        `created; see ${MEMORY_DOC}. (This warning is printed once.)`,
    );
  }
}

/** The engine's full collection where a library can get it (Node: v8 `gc`, exposed on demand), else null. */
export async function engineCollector(): Promise<(() => void) | null> {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  if (typeof process === 'undefined' || !process.versions?.node) return null;
  try {
    const v8 = await import('node:v8');
    const vm = await import('node:vm');
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}
