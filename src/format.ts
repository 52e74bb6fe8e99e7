// Printing tensors as PyTorch prints them (torch/_tensor_str.py, default print options): one
// formatter for the whole tensor picks integer mode ("1."), fixed ("1.5000") or scientific
// ("1.0000e-05") notation and a common width; rows wrap at 80 columns; a tensor of more than
// 1,000 elements is summarised to its first and last 3 entries per dimension. Pure functions of
// the host values, so test/format.test.ts compares them with torch's own output.

const PRECISION = 4;
const LINE_WIDTH = 80;
const THRESHOLD = 1000;
const EDGE_ITEMS = 3;

/** Python's '{:.Nf}': correctly rounded, exact ties to even (JS toFixed rounds ties up). */
function pyFixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  const scaled = Math.abs(x) * 10 ** digits; // exact for f32 values and digits ≤ 4
  const floor = Math.floor(scaled);
  if (scaled - floor === 0.5 && Number.isSafeInteger(floor)) {
    const n = floor % 2 === 0 ? floor : floor + 1;
    const s = String(n).padStart(digits + 1, '0');
    const body = digits > 0 ? `${s.slice(0, -digits)}.${s.slice(-digits)}` : s;
    return (x < 0 || Object.is(x, -0) ? '-' : '') + body;
  }
  const s = Math.abs(x).toFixed(digits);
  return (x < 0 || Object.is(x, -0) ? '-' : '') + s;
}

/** Python's '{:.Ne}': mantissa digits, exponent with a sign and at least two digits. */
function pyExp(x: number, digits: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  const [m, e] = x.toExponential(digits).split('e');
  const exp = Number(e);
  return `${Object.is(x, -0) ? '-' : ''}${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

class Formatter {
  private intMode = true;
  private sciMode = false;
  private maxWidth = 1;

  /** `integers`: an int32 tensor's values, printed without a decimal point (as PyTorch). */
  constructor(
    values: ArrayLike<number>,
    private readonly integers = false,
  ) {
    if (integers) {
      for (let i = 0; i < values.length; i++) this.maxWidth = Math.max(this.maxWidth, String(values[i]).length);
      return;
    }
    const finite: number[] = [];
    for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i]) && values[i] !== 0) finite.push(values[i]);
    if (finite.length === 0) return;
    let min = Infinity;
    let max = 0;
    for (const v of finite) {
      min = Math.min(min, Math.abs(v));
      max = Math.max(max, Math.abs(v));
      if (v !== Math.ceil(v)) this.intMode = false;
    }
    const wide = max / min > 1000 || max > 1e8;
    if (this.intMode) {
      this.sciMode = wide;
      for (const v of finite) this.maxWidth = Math.max(this.maxWidth, wide ? pyExp(v, PRECISION).length : pyFixed(v, 0).length + 1);
    } else {
      this.sciMode = wide || min < 1e-4;
      for (const v of finite) this.maxWidth = Math.max(this.maxWidth, (this.sciMode ? pyExp(v, PRECISION) : pyFixed(v, PRECISION)).length);
    }
  }

  get width(): number {
    return this.maxWidth;
  }

  format(v: number): string {
    let s: string;
    if (this.integers) s = String(v);
    else if (this.sciMode) s = pyExp(v, PRECISION);
    else if (this.intMode) s = pyFixed(v, 0) + (Number.isFinite(v) ? '.' : '');
    else s = pyFixed(v, PRECISION);
    return s.padStart(this.maxWidth);
  }
}

/** Row-major strides of a contiguous shape. */
function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** The indices shown along a dimension of size n: all, or the first and last EDGE_ITEMS. */
function shown(n: number, summarize: boolean): number[] | [number[], number[]] {
  const all = Array.from({ length: n }, (_, i) => i);
  if (!summarize || n <= 2 * EDGE_ITEMS) return all;
  return [all.slice(0, EDGE_ITEMS), all.slice(n - EDGE_ITEMS)];
}

function isSplit(x: number[] | [number[], number[]]): x is [number[], number[]] {
  return Array.isArray(x[0]);
}

/** The values the formatter sees (PyTorch's get_summarized_data): the shown entries only. */
function shownValues(values: ArrayLike<number>, shape: readonly number[], summarize: boolean): number[] {
  const strides = stridesOf(shape);
  const out: number[] = [];
  const walk = (dim: number, offset: number): void => {
    if (dim === shape.length) {
      out.push(values[offset]);
      return;
    }
    const idx = shown(shape[dim], summarize);
    for (const i of isSplit(idx) ? [...idx[0], ...idx[1]] : idx) walk(dim + 1, offset + i * strides[dim]);
  };
  walk(0, 0);
  return out;
}

function body(values: ArrayLike<number>, shape: readonly number[], f: Formatter, summarize: boolean): string {
  const strides = stridesOf(shape);
  const rec = (dim: number, offset: number, indent: number): string => {
    const idx = shown(shape[dim], summarize);
    if (dim === shape.length - 1) {
      const fmtAt = (i: number) => f.format(values[offset + i * strides[dim]]);
      const data = isSplit(idx) ? [...idx[0].map(fmtAt), ' ...', ...idx[1].map(fmtAt)] : idx.map(fmtAt);
      const perLine = Math.max(1, Math.floor((LINE_WIDTH - indent) / (f.width + 2)));
      const lines: string[] = [];
      for (let i = 0; i < data.length; i += perLine) lines.push(data.slice(i, i + perLine).join(', '));
      return `[${lines.join(`,\n${' '.repeat(indent + 1)}`)}]`;
    }
    const sub = (i: number) => rec(dim + 1, offset + i * strides[dim], indent + 1);
    const slices = isSplit(idx) ? [...idx[0].map(sub), '...', ...idx[1].map(sub)] : idx.map(sub);
    const rank = shape.length - dim;
    return `[${slices.join(`,${'\n'.repeat(rank - 1)}${' '.repeat(indent + 1)}`)}]`;
  };
  return rec(0, 0, 'tensor('.length);
}

/** Extra fields printed after the values, as PyTorch's suffixes (`requires_grad=True`). */
export interface FormatSuffixes {
  requiresGrad?: boolean;
  /** The op that produced the tensor (PyTorch prints grad_fn=<…Backward0>; wgrad its op name). */
  gradFn?: string | null;
}

/**
 * The text PyTorch's repr gives a float32 tensor with these row-major values and shape:
 * `tensor([[1., 2.],\n        [3., 4.]])`, summarised above 1,000 elements.
 *
 * @example
 * formatTensor([1, 2.5, -3], [3]) // 'tensor([ 1.0000,  2.5000, -3.0000])'
 */
export function formatTensor(values: ArrayLike<number>, shape: readonly number[], suffixes: FormatSuffixes = {}): string {
  const n = shape.reduce((a, b) => a * b, 1);
  const extra: string[] = [];
  let text: string;
  if (n === 0) {
    text = '[]';
    if (shape.length !== 1) extra.push(`size=(${shape.join(', ')})`);
  } else {
    const summarize = n > THRESHOLD;
    const f = new Formatter(summarize ? shownValues(values, shape, true) : values, values instanceof Int32Array);
    text = shape.length === 0 ? f.format(values[0]) : body(values, shape, f, summarize);
  }
  if (values instanceof Int32Array) extra.push('dtype=torch.int32');
  if (suffixes.gradFn) extra.push(`grad_fn=<${suffixes.gradFn}>`);
  else if (suffixes.requiresGrad) extra.push('requires_grad=True');
  const indent = 'tensor('.length;
  let out = `tensor(${text}`;
  let lastLine = out.length - out.lastIndexOf('\n') + 1;
  for (const s of extra) {
    if (lastLine + s.length + 2 > LINE_WIDTH) {
      out += `,\n${' '.repeat(indent)}${s}`;
      lastLine = indent + s.length;
    } else {
      out += `, ${s}`;
      lastLine += s.length + 2;
    }
  }
  return `${out})`;
}

/** Row-major values as nested arrays of the given shape (a number for rank 0), like tolist(). */
export function nestValues(values: ArrayLike<number>, shape: readonly number[]): number | unknown[] {
  if (shape.length === 0) return values[0];
  const strides = stridesOf(shape);
  const rec = (dim: number, offset: number): unknown[] =>
    Array.from({ length: shape[dim] }, (_, i) => (dim === shape.length - 1 ? values[offset + i] : rec(dim + 1, offset + i * strides[dim])));
  return rec(0, 0);
}
