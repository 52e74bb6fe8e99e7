// Module: the base class of every layer and network, modelled on torch.nn.Module.
//
// A module's parts are found from its own properties, in the order they were declared:
//   - a property holding a Module is a child (Sequential's children are the properties 0, 1, 2…);
//   - a property holding a Tensor is a parameter, unless it was registered with
//     `registerBuffer` (persistent state without gradient, e.g. BatchNorm running statistics);
//   - an array or plain object holding modules or tensors is a child too, seen as a ModuleList /
//     ModuleDict over the live container (PyTorch's habit: `layers.0.weight`, `heads.cls.bias`);
//   - a Map, Set or other class instance holding modules is refused with an error (the walk
//     cannot see into it, and silently skipping it would leave those layers untrained);
//   - anything else (numbers, options, null) is ignored.
// So a subclass simply assigns `this.weight = parameter(...)` or `this.fc = new Linear(...)`, and a
// child can be replaced later (`net.fc = new nn.Linear(512, 10)`). Because everything lives in
// plain own properties, a structural deep copy (moco/momentum.ts cloneModule) copies it too.
//
// Names in parameter lists and state dicts are dotted paths of property names written in
// snake_case, as PyTorch spells them: `layer1.0.bn1.running_mean`, `encoder_q.fc.weight`; so
// checkpoints line up with PyTorch models of the same structure.

import { Tensor } from '../tensor.ts';
import { keep } from '../scope.ts';
import { fmt, sameShape } from '../shape.ts';
import { noGrad } from '../autograd/graph.ts';
import { mapInto } from '../ops/map.ts';

/** Makes t a parameter: persistent (outlives tidy) and requiring grad. Returns t. @example const scale = nn.parameter(ones([16])); // e.g. a property of a Module: found by parameters() */
export function parameter(t: Tensor): Tensor {
  keep(t);
  t.requiresGrad = true;
  return t;
}

/** camelCase property name → snake_case state name (`runningMean` → `running_mean`). @example nn.stateName('numBatchesTracked') // 'num_batches_tracked' */
export function stateName(property: string): string {
  return property.replace(/(?<=.)([A-Z])/g, '_$1').toLowerCase();
}

/** What Module.loadStateDict() reports: state names it expected but did not get, and the reverse. */
export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/**
 * Base class of layers and models, like torch.nn.Module: tensors in properties are parameters
 * (requiresGrad) or buffers (registerBuffer), modules in properties are children, discovered by
 * walking the properties; train()/eval() set the mode recursively; stateDict()/loadStateDict()
 * use PyTorch's names (`features.0.weight`, `bn1.running_mean`), so weights move between the two.
 *
 * @example
 * class Mlp extends nn.Module {
 *   fc1 = new nn.Linear(784, 128);
 *   fc2 = new nn.Linear(128, 10);
 *   forward(x: Tensor): Tensor { return this.fc2.forward(this.fc1.forward(x).relu()); }
 * }
 * const model = new Mlp();
 * const logits = model.forward(randn([32, 784]));           // [32, 10]
 * console.log(model.parameters().length, Object.keys(model.stateDict())); // 4, fc1.weight, fc1.bias, …
 */
export abstract class Module {
  /** Training mode (true) or evaluation mode (false); set with train() / eval(). */
  training = true;
  /** Properties holding buffers rather than parameters. */
  private bufferNames: string[] = [];

  /** The computation; subclasses define it. */
  abstract forward(...inputs: Tensor[]): Tensor;

  /** Runs forward (the analogue of calling a PyTorch module). */
  call(...inputs: Tensor[]): Tensor {
    return this.forward(...inputs);
  }

  /** Stores a persistent tensor without gradient as property `name` (saved in the state dict). */
  protected registerBuffer(name: string, t: Tensor): Tensor {
    keep(t);
    t.requiresGrad = false;
    (this as unknown as Record<string, unknown>)[name] = t;
    if (!this.bufferNames.includes(name)) this.bufferNames.push(name);
    return t;
  }

  // ---- structure ----------------------------------------------------------------------------

  /** Own parts in declaration order: [state name, value, kind]. */
  protected *ownEntries(): Generator<[string, Tensor | Module, 'parameter' | 'buffer' | 'module']> {
    for (const [key, v] of Object.entries(this)) {
      if (v instanceof Module) yield [stateName(key), v, 'module'];
      else if (v instanceof Tensor) yield [stateName(key), v, this.bufferNames.includes(key) ? 'buffer' : 'parameter'];
      else {
        const view = containerView(v, `${this.constructor.name}.${key}`);
        if (view) yield [stateName(key), view, 'module'];
      }
    }
  }

  /** Direct children with their names. */
  *namedChildren(): Generator<[string, Module]> {
    for (const [name, v, kind] of this.ownEntries()) if (kind === 'module') yield [name, v as Module];
  }

  children(): Module[] {
    return [...this.namedChildren()].map(([, m]) => m);
  }

  /** This module and every descendant, pre-order, each once; names are dotted paths ('' for this one). */
  *namedModules(prefix = '', seen = new Set<Module>()): Generator<[string, Module]> {
    if (seen.has(this)) return;
    seen.add(this);
    yield [prefix, this];
    for (const [name, child] of this.namedChildren()) yield* child.namedModules(prefix ? `${prefix}.${name}` : name, seen);
  }

  modules(): Module[] {
    return [...this.namedModules()].map(([, m]) => m);
  }

  private *namedTensors(kind: 'parameter' | 'buffer', dedupe: boolean): Generator<[string, Tensor]> {
    const seen = new Set<Tensor>();
    for (const [path, m] of this.namedModules()) {
      for (const [name, v, k] of m.ownEntries()) {
        if (k !== kind) continue;
        const t = v as Tensor;
        if (dedupe && seen.has(t)) continue;
        seen.add(t);
        yield [path ? `${path}.${name}` : name, t];
      }
    }
  }

  /** Parameters with dotted names (`layers.0.weight`), each tensor once. */
  namedParameters(): Generator<[string, Tensor]> {
    return this.namedTensors('parameter', true);
  }

  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }

  /** Buffers (running statistics…) with dotted names. */
  namedBuffers(): Generator<[string, Tensor]> {
    return this.namedTensors('buffer', true);
  }

  buffers(): Tensor[] {
    return [...this.namedBuffers()].map(([, b]) => b);
  }

  // ---- modes and gradients ------------------------------------------------------------------

  /** Sets training mode on this module and every descendant. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  /** Evaluation mode (BatchNorm uses running statistics, Dropout passes through). */
  eval(): this {
    return this.train(false);
  }

  /** Drops every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  // ---- state dicts --------------------------------------------------------------------------

  /**
   * Parameters and buffers by dotted name, in PyTorch's order (each module's parameters, then its
   * buffers, then its children). These are the module's own tensors, not copies.
   */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [path, m] of this.namedModules()) {
      const own = [...m.ownEntries()];
      for (const kind of ['parameter', 'buffer'] as const) {
        for (const [name, v, k] of own) if (k === kind) out[path ? `${path}.${name}` : name] = v as Tensor;
      }
    }
    return out;
  }

  /**
   * Copies values from `dict` into this module's parameters and buffers (on the GPU; the tensors
   * keep their identity, so optimizers holding them stay valid). Nothing is changed unless every
   * shape fits; with `strict` (default) every key must also match exactly. The error lists all
   * missing keys, unexpected keys and shape mismatches.
   */
  loadStateDict(dict: Record<string, Tensor>, opts: { strict?: boolean } = {}): LoadResult {
    const strict = opts.strict ?? true;
    const own = this.stateDict();
    const missingKeys = Object.keys(own).filter((k) => !(k in dict));
    const unexpectedKeys = Object.keys(dict).filter((k) => !(k in own));
    const problems: string[] = [];
    if (strict && missingKeys.length) problems.push(`Missing key(s) in state dict: ${missingKeys.map((k) => `"${k}"`).join(', ')}.`);
    if (strict && unexpectedKeys.length)
      problems.push(`Unexpected key(s) in state dict: ${unexpectedKeys.map((k) => `"${k}"`).join(', ')}.`);
    for (const [k, t] of Object.entries(own)) {
      const src = dict[k];
      if (src === undefined) continue;
      if (!(src instanceof Tensor)) problems.push(`value for "${k}" is not a Tensor.`);
      else if (!sameShape(src.shape, t.shape))
        problems.push(
          `size mismatch for ${k}: copying a tensor of shape ${fmt(src.shape)} from the state dict, the shape in the current model is ${fmt(t.shape)}.`,
        );
    }
    if (problems.length) {
      throw new Error(`Error(s) in loading state dict for ${this.constructor.name}:\n  ${problems.join('\n  ')}`);
    }
    noGrad(() => {
      for (const [k, t] of Object.entries(own)) {
        const src = dict[k];
        if (src !== undefined && src !== t) mapInto(t, [src], 'x0', 'loadStateDict');
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  // ---- printing -----------------------------------------------------------------------------

  /** The settings shown inside the parentheses of toString() (PyTorch's extra_repr). */
  extraRepr(): string {
    return '';
  }

  /** A tree like PyTorch's module repr. */
  toString(): string {
    const extra = this.extraRepr();
    const extraLines = extra ? extra.split('\n') : [];
    const childLines = [...this.namedChildren()].map(([name, m]) => `(${name}): ${m.toString().split('\n').join('\n  ')}`);
    const lines = [...extraLines, ...childLines];
    let s = `${this.constructor.name}(`;
    if (lines.length === 1 && childLines.length === 0) s += extraLines[0];
    else if (lines.length > 0) s += `\n  ${lines.join('\n  ')}\n`;
    return s + ')';
  }
}

/** The ModuleList / ModuleDict views of arrays and plain objects held by modules, one per container. */
const views = new WeakMap<object, Module>();
/** Where each view's container sits (`Net.layers`), for error messages. */
const viewPaths = new WeakMap<Module, string>();

function isPlainObject(v: object): v is Record<string, unknown> {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Whether v is, or (through arrays and plain objects) contains, a Module or a Tensor (or a hidden module). */
function holdsParts(v: unknown, depth = 0): boolean {
  if (v === null || typeof v !== 'object' || depth > 8) return false;
  if (v instanceof Module || v instanceof Tensor) return true;
  if (Array.isArray(v)) return v.some((x) => holdsParts(x, depth + 1));
  if (isPlainObject(v)) return Object.values(v).some((x) => holdsParts(x, depth + 1));
  return hiddenModule(v) !== null; // so that the walk reaches it and says why it cannot go in
}

/** The first module found one level inside a container the walk does not enter (Map, Set, class instance). */
function hiddenModule(v: object): [string, Module] | null {
  const entries: [string, unknown][] =
    v instanceof Map
      ? [...v].map(([k, x]) => [`.get(${JSON.stringify(k)})`, x])
      : v instanceof Set
        ? [...v].map((x, i) => [` (item ${i})`, x])
        : Object.entries(v).map(([k, x]) => [`.${k}`, x]);
  for (const [where, x] of entries) {
    if (x instanceof Module) return [where, x];
    if (x !== null && typeof x === 'object' && (Array.isArray(x) || isPlainObject(x)) && holdsParts(x)) {
      const inner = Array.isArray(x) ? x.find((y) => y instanceof Module) : Object.values(x).find((y) => y instanceof Module);
      if (inner) return [where, inner as Module];
    }
  }
  return null;
}

/**
 * The child module standing for an array / plain object of modules and tensors (null if it holds
 * none); throws for a Map, Set or class instance holding modules, which the walk cannot see.
 */
function containerView(v: unknown, where: string): Module | null {
  if (v === null || typeof v !== 'object' || typeof (v as { then?: unknown }).then === 'function') return null;
  if (Array.isArray(v) || isPlainObject(v)) {
    if (!holdsParts(v)) return null;
    let view = views.get(v);
    if (!view) {
      view = Array.isArray(v) ? new ModuleList(v as Module[]) : new ModuleDict(v as Record<string, Module>);
      views.set(v, view);
      viewPaths.set(view, where);
    }
    return view;
  }
  if (v instanceof Tensor || v instanceof Module) return null;
  const hidden = hiddenModule(v);
  if (hidden) {
    const kind = v instanceof Map ? 'a Map' : v instanceof Set ? 'a Set' : `a ${v.constructor?.name ?? 'class'} instance`;
    throw new Error(
      `nn.Module: ${where} is ${kind} holding modules (${where}${hidden[0]} is a ${hidden[1].constructor.name}); ` +
        'parameters(), stateDict() and train()/eval() cannot see inside it, so those layers would silently not train. ' +
        'Keep modules in properties, arrays or plain objects, or in nn.ModuleList / nn.ModuleDict.',
    );
  }
  return null;
}

/** What a container holds: modules are children, tensors parameters, nested arrays/objects containers. */
function* containerEntries(
  items: [string, unknown][],
  container: Module,
  indexed: boolean,
): Generator<[string, Tensor | Module, 'parameter' | 'module']> {
  for (const [key, v] of items) {
    if (v instanceof Module) yield [key, v, 'module'];
    else if (v instanceof Tensor) yield [key, v, 'parameter'];
    else {
      const where = viewPaths.get(container) ?? container.constructor.name;
      const view = containerView(v, indexed ? `${where}[${key}]` : `${where}.${key}`);
      if (view) yield [key, view, 'module'];
    }
  }
}

/**
 * Holds modules in a list, like torch.nn.ModuleList: they are children named 0, 1, 2… so their
 * parameters are `layers.0.weight`. A plain array of modules held by a module works the same way
 * (it is seen through a ModuleList over the live array).
 *
 * @example
 * class Mlp extends nn.Module {
 *   layers = new nn.ModuleList([new nn.Linear(4, 8), new nn.Linear(8, 2)]);
 *   forward(x: Tensor): Tensor { for (const l of this.layers) x = l.forward(x).relu(); return x; }
 * }
 * Object.keys(new Mlp().stateDict()) // ['layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias']
 */
export class ModuleList extends Module {
  private readonly items: Module[];
  constructor(modules: Iterable<Module> = []) {
    super();
    this.items = Array.isArray(modules) ? modules : [...modules];
  }
  protected override *ownEntries(): Generator<[string, Tensor | Module, 'parameter' | 'buffer' | 'module']> {
    yield* containerEntries(
      this.items.map((m, i) => [String(i), m]),
      this,
      true,
    );
  }
  get length(): number {
    return this.items.length;
  }
  /** The i-th module (negative counts from the end). */
  at(i: number): Module {
    const m = this.items.at(i);
    if (!m) throw new Error(`ModuleList.at: index ${i} is out of range for ${this.items.length} modules`);
    return m;
  }
  append(m: Module): this {
    if (!(m instanceof Module))
      throw new Error(
        `ModuleList.append: expected a Module, got ${typeof m === 'object' ? (m as object | null)?.constructor?.name : typeof m}`,
      );
    this.items.push(m);
    return this;
  }
  [Symbol.iterator](): Iterator<Module> {
    return this.items[Symbol.iterator]();
  }
  forward(): Tensor {
    throw new Error('ModuleList has no forward(): iterate over it (for (const layer of list) x = layer.forward(x)) or use nn.Sequential');
  }
}

/**
 * Holds modules by name, like torch.nn.ModuleDict: `heads.cls.weight`. A plain object of modules
 * held by a module works the same way.
 *
 * @example
 * const heads = new nn.ModuleDict({ cls: new nn.Linear(8, 10), box: new nn.Linear(8, 4) });
 * const logits = heads.get('cls').forward(randn([4, 8])); // [4, 10]
 * Object.keys(heads.stateDict()) // ['cls.weight', 'cls.bias', 'box.weight', 'box.bias']
 */
export class ModuleDict extends Module {
  private readonly items: Record<string, Module>;
  constructor(modules: Record<string, Module> = {}) {
    super();
    this.items = modules;
  }
  protected override *ownEntries(): Generator<[string, Tensor | Module, 'parameter' | 'buffer' | 'module']> {
    yield* containerEntries(Object.entries(this.items), this, false);
  }
  get(key: string): Module {
    const m = this.items[key];
    if (!m) throw new Error(`ModuleDict.get: no module '${key}' (keys: ${Object.keys(this.items).join(', ') || 'none'})`);
    return m;
  }
  set(key: string, m: Module): this {
    this.items[key] = m;
    return this;
  }
  keys(): string[] {
    return Object.keys(this.items);
  }
  entries(): [string, Module][] {
    return Object.entries(this.items);
  }
  forward(): Tensor {
    throw new Error("ModuleDict has no forward(): call one of its modules (dict.get('name').forward(x))");
  }
}

/** Formats a number as Python prints a float (1e-05, 0.1, 1.0), for reprs that match PyTorch's. @example nn.pyFloat(1e-5) // '1e-05' */
export function pyFloat(x: number): string {
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return x.toFixed(1);
  const a = Math.abs(x);
  if (a >= 1e-4 && a < 1e16) return String(x);
  const [m, e] = x.toExponential().split('e');
  const exp = Number(e);
  return `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}
