// Shape arithmetic shared by every op: sizes, row-major strides, NumPy broadcasting, axis
// normalisation, and collapsing dimensions that are contiguous in all operands (so kernels loop
// over as few dimensions as possible).

export type Shape = readonly number[];
export const MAX_RANK = 8;

/** `shape` padded with 1s to MAX_RANK dims, as kernels take shapes in uniforms: unused dims then count as size 1. */
export function padRank(shape: Shape): number[] {
  return [...shape, ...new Array<number>(MAX_RANK - shape.length).fill(1)];
}

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function fmt(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** NumPy broadcasting of any number of shapes; `op` names the caller in the error. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i];
      if (d === out[o] || d === 1) continue;
      if (out[o] === 1) out[o] = d;
      else
        throw new Error(
          `${op}: shapes ${shapes.map(fmt).join(' and ')} cannot be broadcast together (dimension ${i - s.length} is ${out[o]} vs ${d}); make them equal or 1`,
        );
    }
  }
  return out;
}

/** Strides for reading a tensor of `shape`/`strides` as if it had the (broadcast) shape `target`. */
export function broadcastStrides(shape: Shape, strides: readonly number[], target: Shape): number[] {
  const out = new Array<number>(target.length).fill(0);
  for (let i = 0; i < shape.length; i++) {
    const o = target.length - shape.length + i;
    out[o] = shape[i] === 1 && target[o] !== 1 ? 0 : strides[i];
  }
  return out;
}

export function normalizeDim(op: string, dim: number, rank: number): number {
  const d = dim < 0 ? dim + Math.max(rank, 1) : dim; // a rank-0 tensor accepts dim 0 and -1, as in PyTorch
  if (!Number.isInteger(d) || d < 0 || d >= Math.max(rank, 1)) {
    throw new Error(
      `${op}: dim ${dim} is out of range for a tensor of rank ${rank} (valid: ${-Math.max(rank, 1)}..${Math.max(rank, 1) - 1})`,
    );
  }
  return d;
}

/**
 * Normalises, sorts and de-duplicates reduction dims; undefined or [] means all dims (as torch
 * and the reference). On a rank-0 tensor dim 0 / -1 is accepted and reduces nothing.
 */
export function normalizeDims(op: string, dims: number | readonly number[] | undefined, rank: number): number[] {
  if (dims === undefined || (typeof dims !== 'number' && dims.length === 0)) return [...Array(rank).keys()];
  const list = typeof dims === 'number' ? [dims] : dims;
  const out = [...new Set(list.map((d) => normalizeDim(op, d, rank)))].sort((a, b) => a - b);
  if (out.length !== list.length) throw new Error(`${op}: dims [${list.join(', ')}] name the same dimension twice`);
  return rank === 0 ? [] : out;
}

/**
 * Merges adjacent dimensions that are contiguous for every operand (stride[i] == stride[i+1] *
 * shape[i+1] in all of them) and drops size-1 dimensions. Returns the collapsed shape and strides.
 */
export function collapse(shape: Shape, stridesList: (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = stridesList.map(() => []);
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && stridesList.every((s, k) => outStrides[k][last] === s[i] * shape[i])) {
      outShape[last] *= shape[i];
      stridesList.forEach((s, k) => (outStrides[k][last] = s[i]));
    } else {
      outShape.push(shape[i]);
      stridesList.forEach((s, k) => outStrides[k].push(s[i]));
    }
  }
  return { shape: outShape, strides: outStrides };
}
