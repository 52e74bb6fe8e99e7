// WGSL sources live in kernels/*.wgsl, readable on their own. A kernel may contain template
// parameters written {{NAME}}; TypeScript fills in only those few (workgroup size, an expression,
// an index function). Sources are loaded once: from disk in Node, or registered by the caller
// (browsers: `registerKernelSource`) so the library has no Node-only import on its main path.
// A line `//! include <piece>` is replaced by kernels/<piece>.wgsl (loaded like a kernel), so
// code several kernels share (the matmul kernels' Params struct and epilogue) is written once.

const sources = new Map<string, string>();
/** Sources with their includes resolved; cleared whenever a source is registered. */
const resolved = new Map<string, string>();
let nodeLoader: ((name: string) => string) | null = null;

/**
 * Makes a WGSL source available under `name`, the name `device.dispatch({ kernel: name, … })`
 * uses. Node reads the library's kernels from kernels/ by itself; register your own kernels
 * (examples/custom_op.ts), or every kernel where there is no file system (see init's `kernels`).
 *
 * @example
 * registerKernelSource('my_kernel', `
 *   @group(0) @binding(0) var<uniform> p: vec4<u32>;
 *   @group(0) @binding(1) var<storage, read_write> out: array<f32>;
 *   @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3<u32>) {
 *     if (id.x < p.x) { out[id.x] = f32(id.x); }
 *   }`);
 */
export function registerKernelSource(name: string, source: string): void {
  sources.set(name, source);
  resolved.clear();
}

export function setKernelLoader(loader: (name: string) => string): void {
  nodeLoader = loader;
}

/** The text registered or loaded under `name`, includes left as they are. */
function rawSource(name: string): string {
  let src = sources.get(name);
  if (src === undefined) {
    if (!nodeLoader)
      throw new Error(
        `wgrad: kernel '${name}' is not loaded; in a browser call registerKernelSource('${name}', text) with kernels/${name}.wgsl`,
      );
    src = nodeLoader(name);
    sources.set(name, src);
  }
  return src;
}

const INCLUDE = /^[ \t]*\/\/! include\b(.*?)\r?$/gm;

/**
 * The kernel's WGSL with every `//! include <piece>` line replaced by the piece's text, whose own
 * includes are resolved too. A piece is pasted once per kernel (a second include of it, or one
 * that would loop, becomes an empty line), so pieces may include what they need.
 */
export function kernelSource(name: string): string {
  let out = resolved.get(name);
  if (out === undefined) {
    out = resolveIncludes(name, rawSource(name), new Set([name]));
    resolved.set(name, out);
  }
  return out;
}

function resolveIncludes(kernel: string, text: string, seen: Set<string>): string {
  return text.replace(INCLUDE, (line: string, arg: string) => {
    const piece = arg.trim();
    if (!/^\w+$/.test(piece)) {
      const want = "one piece, kernels/<piece>.wgsl, as in '//! include matmul_params'";
      throw new Error(`wgrad: kernel '${kernel}': '${line.trim()}' should name ${want}`);
    }
    if (seen.has(piece)) return '';
    seen.add(piece);
    let body: string;
    try {
      body = rawSource(piece);
    } catch (e) {
      const why = (e as Error).message;
      throw new Error(`wgrad: kernel '${kernel}' includes the piece '${piece}' (kernels/${piece}.wgsl), which cannot be loaded: ${why}`);
    }
    return resolveIncludes(kernel, body, seen).replace(/\n$/, '');
  });
}

/** Replaces every {{KEY}} in the kernel; a placeholder left unfilled is a bug, so it throws. */
export function fillTemplate(name: string, params: Record<string, string | number>): string {
  const out = kernelSource(name).replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    if (!(key in params)) throw new Error(`wgrad: kernel '${name}' needs template parameter {{${key}}}`);
    return String(params[key]);
  });
  return out;
}

/** Template parameters of one kernel configuration. */
export type KernelParams = Record<string, string | number>;

/**
 * The params object for `key` from `cache`, made once. Ops that generate kernel code (conv,
 * matmul, map) pass the same object for the same configuration, so the code is not regenerated
 * per dispatch and the device keys its pipeline cache by the object once (device.ts paramsKey).
 * A cache past 4096 entries starts over (keys with baked-in constants could grow it).
 */
export function cachedParams(cache: Map<string, KernelParams>, key: string, make: () => KernelParams): KernelParams {
  let p = cache.get(key);
  if (!p) {
    if (cache.size > 4096) cache.clear();
    cache.set(key, (p = make()));
  }
  return p;
}
