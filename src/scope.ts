// Tensor lifetimes. `tidy(fn)` frees deterministically: it disposes every tensor created inside fn
// except those it returns (and those made persistent with `keep`, such as parameters and
// gradients). Tensors outside any scope (a PyTorch-style loop) are freed by the FinalizationRegistry
// in tensor.ts once unreachable; src/device/collect.ts asks for collections as GPU memory grows.

export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
}

const stack: Set<Disposable>[] = [];
const persistent = new WeakSet<Disposable>();

/** Called by the Tensor constructor: the new tensor belongs to the innermost scope. */
export function track(t: Disposable): void {
  if (stack.length > 0) stack[stack.length - 1].add(t);
}

/**
 * Takes a tensor out of every scope: it lives until disposed explicitly (or collected). For
 * parameters, optimizer state, queues: anything that outlives one step.
 *
 * @example
 * const w = keep(randn([4, 2], { requiresGrad: true }));
 * tidy(() => { w.square().sum().backward(); }); // w (and w.grad) survive the tidy
 */
export function keep<T extends Disposable>(t: T): T {
  persistent.add(t);
  for (const s of stack) s.delete(t);
  return t;
}

function collect(value: unknown, into: Set<Disposable>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 3) return;
  if ('dispose' in value && 'isDisposed' in value) {
    into.add(value as Disposable);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collect(v, into, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collect(v, into, depth + 1);
}

/**
 * Runs fn and disposes the tensors it created, except those reachable from its result (a
 * tensor, or arrays/plain objects of them), which move to the enclosing scope. fn must be
 * synchronous: an async fn would let other work's tensors land in this scope.
 *
 * @example
 * const x = randn([3, 3]);
 * const y = tidy(() => x.exp().add(1).log()); // the intermediates exp(x) and exp(x) + 1 are freed
 * console.log(await y.toArray());
 */
export function tidy<T>(fn: () => T): T {
  userTidies++;
  return scoped(fn);
}

let userTidies = 0;

/**
 * How many times the program has called tidy() itself. One that does manages its tensors'
 * lifetimes: memory it keeps is meant to stay, and the growth warning (device/collect.ts) is not for it.
 */
export function userTidyCount(): number {
  return userTidies;
}

/** tidy() for the library's own use: it does not mark the program as managing lifetimes. */
export function scoped<T>(fn: () => T): T {
  const scope = new Set<Disposable>();
  stack.push(scope);
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise)
      throw new Error('tidy: fn returned a Promise; tidy only takes synchronous functions (await outside, or dispose tensors yourself)');
  } finally {
    stack.pop();
  }
  const kept = new Set<Disposable>();
  collect(result, kept);
  for (const t of scope) {
    if (kept.has(t) || persistent.has(t)) continue;
    t.dispose();
  }
  if (stack.length > 0) for (const t of kept) if (scope.has(t)) stack[stack.length - 1].add(t);
  return result;
}

export function isPersistent(t: Disposable): boolean {
  return persistent.has(t);
}
