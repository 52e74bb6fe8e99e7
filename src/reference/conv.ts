/**
 * Convolution and pooling reference ops (NCHW), written as direct loops over
 * output positions and kernel taps. Output sizes follow PyTorch (floor mode):
 *   out = floor((in + 2·pad − dilation·(k − 1) − 1) / stride) + 1
 */
import { type RefTensor, checkPair, checkTensor, fmt, numel, refFromFn } from './tensor.ts';

export interface Conv2dAttrs {
  stride?: readonly number[];
  padding?: readonly number[];
  dilation?: readonly number[];
  groups?: number;
  /** 'relu': max(conv + bias, 0). */
  activation?: string;
}
export interface Pool2dAttrs {
  kernelSize: readonly number[];
  /** Defaults to kernelSize, as in PyTorch. */
  stride?: readonly number[];
  padding?: readonly number[];
}
export interface AvgPool2dAttrs extends Pool2dAttrs {
  /** Divide by the full window size (true, PyTorch default) or by the in-bounds count. */
  countIncludePad?: boolean;
}

function outSize(op: string, size: number, k: number, s: number, p: number, d: number): number {
  const out = Math.floor((size + 2 * p - d * (k - 1) - 1) / s) + 1;
  if (out < 1) throw new Error(`${op}: input size ${size} too small for kernel ${k} (dilation ${d}, padding ${p})`);
  return out;
}

/** 2-D cross-correlation: x [N, Cin, H, W], w [Cout, Cin/groups, kh, kw], bias [Cout]; relu(…) with activation 'relu'. */
export function conv2d(x: RefTensor, w: RefTensor, bias: RefTensor | undefined, attrs?: Conv2dAttrs): RefTensor {
  checkTensor('conv2d', x, 'x');
  checkTensor('conv2d', w, 'weight');
  const [sh, sw] = checkPair('conv2d', 'stride', attrs?.stride ?? [1, 1], 1);
  const [ph, pw] = checkPair('conv2d', 'padding', attrs?.padding ?? [0, 0], 0);
  const [dh, dw] = checkPair('conv2d', 'dilation', attrs?.dilation ?? [1, 1], 1);
  const groups = attrs?.groups ?? 1;
  if (x.shape.length !== 4 || w.shape.length !== 4) {
    throw new Error(`conv2d: need x [N,C,H,W] and weight [Cout,Cin/groups,kh,kw], got ${fmt(x.shape)} and ${fmt(w.shape)}`);
  }
  const [n, cin, h, wd] = x.shape;
  const [cout, cinG, kh, kw] = w.shape;
  if (!Number.isInteger(groups) || groups < 1 || cin % groups !== 0 || cout % groups !== 0 || cinG !== cin / groups) {
    throw new Error(
      `conv2d: x ${fmt(x.shape)} and weight ${fmt(w.shape)} do not fit groups=${groups} ` +
        `(need Cin and Cout divisible by groups and weight.shape[1] = Cin/groups)`,
    );
  }
  if (bias !== undefined) {
    checkTensor('conv2d', bias, 'bias');
    if (bias.shape.length !== 1 || bias.shape[0] !== cout) {
      throw new Error(`conv2d: bias ${fmt(bias.shape)} must have shape [${cout}]`);
    }
  }
  const act = attrs?.activation;
  if (act !== undefined && act !== 'relu') throw new Error(`conv2d: unknown activation '${String(act)}' (supported: 'relu')`);
  const oh = outSize('conv2d', h, kh, sh, ph, dh);
  const ow = outSize('conv2d', wd, kw, sw, pw, dw);
  const coutG = cout / groups;
  const X = (b: number, c: number, i: number, j: number) => x.data[((b * cin + c) * h + i) * wd + j];
  const W = (o: number, c: number, i: number, j: number) => w.data[((o * cinG + c) * kh + i) * kw + j];
  return refFromFn([n, cout, oh, ow], (flat) => {
    const ox = flat % ow;
    const oy = Math.floor(flat / ow) % oh;
    const o = Math.floor(flat / (ow * oh)) % cout;
    const b = Math.floor(flat / (ow * oh * cout));
    const g = Math.floor(o / coutG);
    let s = bias === undefined ? 0 : bias.data[o];
    for (let c = 0; c < cinG; c++) {
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          const iy = oy * sh - ph + i * dh;
          const ix = ox * sw - pw + j * dw;
          if (iy >= 0 && iy < h && ix >= 0 && ix < wd) s += X(b, g * cinG + c, iy, ix) * W(o, c, i, j);
        }
      }
    }
    return act === 'relu' ? Math.max(s, 0) : s;
  });
}

/**
 * Shared pooling loop over the last two dims of a rank-3 or rank-4 input.
 * `reduce` gets the in-bounds values of one window and the full window size.
 */
function pool2d(op: string, x: RefTensor, attrs: Pool2dAttrs, reduce: (vals: number[], windowSize: number) => number) {
  checkTensor(op, x);
  if (x.shape.length !== 3 && x.shape.length !== 4) {
    throw new Error(`${op}: input must be [C,H,W] or [N,C,H,W], got ${fmt(x.shape)}`);
  }
  const [kh, kw] = checkPair(op, 'kernelSize', attrs?.kernelSize, 1);
  const [sh, sw] = checkPair(op, 'stride', attrs.stride ?? attrs.kernelSize, 1);
  const [ph, pw] = checkPair(op, 'padding', attrs.padding ?? [0, 0], 0);
  if (2 * ph > kh || 2 * pw > kw) {
    throw new Error(`${op}: padding ${fmt([ph, pw])} must be at most half of kernelSize ${fmt([kh, kw])}`);
  }
  const lead = x.shape.slice(0, -2);
  const [h, w] = x.shape.slice(-2);
  const oh = outSize(op, h, kh, sh, ph, 1);
  const ow = outSize(op, w, kw, sw, pw, 1);
  return refFromFn([...lead, oh, ow], (flat) => {
    const ox = flat % ow;
    const oy = Math.floor(flat / ow) % oh;
    const plane = Math.floor(flat / (ow * oh));
    const vals: number[] = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const iy = oy * sh - ph + i;
        const ix = ox * sw - pw + j;
        if (iy >= 0 && iy < h && ix >= 0 && ix < w) vals.push(x.data[(plane * h + iy) * w + ix]);
      }
    }
    return reduce(vals, kh * kw);
  });
}

/** Max over each window; padding counts as −Infinity; NaN propagates. */
export function maxPool2d(x: RefTensor, attrs: Pool2dAttrs): RefTensor {
  return pool2d('maxPool2d', x, attrs, (vals) => {
    let m = -Infinity;
    for (const v of vals) if (v > m || Number.isNaN(v)) m = v;
    return m;
  });
}

/** Mean over each window; see AvgPool2dAttrs.countIncludePad. */
export function avgPool2d(x: RefTensor, attrs: AvgPool2dAttrs): RefTensor {
  const includePad = attrs?.countIncludePad ?? true;
  return pool2d('avgPool2d', x, attrs, (vals, windowSize) => {
    const s = vals.reduce((a, b) => a + b, 0);
    return s / (includePad ? windowSize : vals.length);
  });
}

/** Only outputSize [1,1] (global average pooling over H, W) is supported. */
export function adaptiveAvgPool2d(x: RefTensor, attrs: { outputSize: readonly number[] }): RefTensor {
  checkTensor('adaptiveAvgPool2d', x);
  const size = attrs?.outputSize;
  if (!Array.isArray(size) || size.length !== 2 || size[0] !== 1 || size[1] !== 1) {
    throw new Error(`adaptiveAvgPool2d: only outputSize [1,1] is supported, got ${JSON.stringify(size)}`);
  }
  if (x.shape.length !== 3 && x.shape.length !== 4) {
    throw new Error(`adaptiveAvgPool2d: input must be [C,H,W] or [N,C,H,W], got ${fmt(x.shape)}`);
  }
  const hw = numel(x.shape.slice(-2));
  return refFromFn([...x.shape.slice(0, -2), 1, 1], (p) => {
    let s = 0;
    for (let i = 0; i < hw; i++) s += x.data[p * hw + i];
    return s / hw;
  });
}
