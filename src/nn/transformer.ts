// Transformer pieces in torch.nn's shape: LayerNorm and MultiheadAttention (parameters named and
// initialised as PyTorch's: in_proj_weight xavier-uniform, biases zero, out_proj a Linear), over
// the composed ops layerNorm and scaledDotProductAttention (src/ops/attention.ts).

import type { Tensor } from '../tensor.ts';
import { fill } from '../ops/creation-internal.ts';
import { layerNorm, scaledDotProductAttention } from '../ops/attention.ts';
import { linear } from '../ops/linear.ts';
import { fmt } from '../shape.ts';
import { defaultGenerator, type Generator } from '../random.ts';
import { Module, parameter, pyFloat } from './module.ts';
import { Linear } from './layers.ts';
import { xavierUniform } from './init.ts';

/** Layer normalisation over the trailing dims normalizedShape, with learnable weight (1) and bias (0) unless elementwiseAffine is false. @example new nn.LayerNorm(64).forward(randn([8, 17, 64])).shape // [8, 17, 64] */
export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  readonly eps: number;
  weight: Tensor | null;
  bias: Tensor | null;

  constructor(normalizedShape: number | readonly number[], opts: { eps?: number; elementwiseAffine?: boolean; bias?: boolean } = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    this.eps = opts.eps ?? 1e-5;
    const affine = opts.elementwiseAffine ?? true;
    this.weight = affine ? parameter(fill(this.normalizedShape, 1)) : null;
    this.bias = affine && (opts.bias ?? true) ? parameter(fill(this.normalizedShape, 0)) : null;
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }
  override extraRepr(): string {
    const shape = this.normalizedShape.length === 1 ? `(${this.normalizedShape[0]},)` : `(${this.normalizedShape.join(', ')})`;
    return `${shape}, eps=${pyFloat(this.eps)}, elementwise_affine=${this.weight ? 'True' : 'False'}`;
  }
}

/** Options of nn.MultiheadAttention (PyTorch's names and defaults). */
export interface MultiheadAttentionOptions {
  /** Default true. */
  bias?: boolean;
  /** Inputs [N, L, E] instead of PyTorch's default [L, N, E] (default false, as PyTorch). */
  batchFirst?: boolean;
  /** Dropout on the attention weights in training (default 0). */
  dropout?: number;
  generator?: Generator;
}

/**
 * Multi-head attention as torch.nn.MultiheadAttention (same parameter names and initialisation,
 * key and value of the query's width): forward(query, key = query, value = key, { attnMask,
 * isCausal }) returns the attention output only (PyTorch's need_weights=False). attnMask is
 * additive (float, broadcast to [N, H, L, S] or [L, S]): PyTorch's boolean MHA masks mean true =
 * masked, so pass -Infinity there and 0 elsewhere. `attend(q, k, v, { attnMask, isCausal })` takes
 * the options by name (forward's arguments are tensors only).
 *
 * @example
 * const mha = new nn.MultiheadAttention(32, 4, { batchFirst: true });
 * const x = randn([2, 10, 32]);
 * mha.forward(x).shape; // [2, 10, 32]: self-attention
 */
export class MultiheadAttention extends Module {
  inProjWeight: Tensor;
  inProjBias: Tensor | null;
  outProj: Linear;
  readonly headDim: number;
  readonly batchFirst: boolean;
  readonly dropout: number;
  private readonly generator: Generator;

  constructor(
    readonly embedDim: number,
    readonly numHeads: number,
    opts: MultiheadAttentionOptions = {},
  ) {
    super();
    if (!(Number.isInteger(embedDim) && Number.isInteger(numHeads) && numHeads > 0 && embedDim % numHeads === 0)) {
      throw new Error(`MultiheadAttention: embedDim ${embedDim} must be divisible by numHeads ${numHeads}`);
    }
    this.generator = opts.generator ?? defaultGenerator;
    this.headDim = embedDim / numHeads;
    this.batchFirst = opts.batchFirst ?? false;
    this.dropout = opts.dropout ?? 0;
    const bias = opts.bias ?? true;
    this.inProjWeight = parameter(xavierUniform([3 * embedDim, embedDim], { generator: this.generator }));
    this.inProjBias = bias ? parameter(fill([3 * embedDim], 0)) : null;
    this.outProj = new Linear(embedDim, embedDim, { bias, generator: this.generator });
    if (this.outProj.bias) {
      this.outProj.bias.dispose();
      this.outProj.bias = parameter(fill([embedDim], 0));
    }
  }

  forward(query: Tensor, key: Tensor = query, value: Tensor = key, attnMask?: Tensor): Tensor {
    return this.attend(query, key, value, { attnMask });
  }

  /** forward with PyTorch's keyword arguments: attnMask (additive) or isCausal. */
  attend(query: Tensor, key: Tensor = query, value: Tensor = key, opts: { attnMask?: Tensor; isCausal?: boolean } = {}): Tensor {
    const E = this.embedDim;
    for (const [name, t] of [
      ['query', query],
      ['key', key],
      ['value', value],
    ] as const) {
      if (t.ndim !== 3 || t.shape[2] !== E)
        throw new Error(
          `MultiheadAttention: ${name} has shape ${fmt(t.shape)}, expected ${this.batchFirst ? '[N, L, E]' : '[L, N, E]'} with E = ${E}`,
        );
    }
    // To [N, L, E].
    const [q0, k0, v0] = [query, key, value].map((t) => (this.batchFirst ? t : t.transpose(0, 1)));
    const project = (t: Tensor, i: number) => {
      const w = this.inProjWeight.slice(0, i * E, (i + 1) * E);
      const b = this.inProjBias?.slice(0, i * E, (i + 1) * E);
      const [n, l] = t.shape;
      return linear(t, w, b).reshape(n, l, this.numHeads, this.headDim).permute(0, 2, 1, 3); // [N, H, L, D]
    };
    const o = scaledDotProductAttention(project(q0, 0), project(k0, 1), project(v0, 2), {
      mask: opts.attnMask,
      causal: opts.isCausal,
      dropoutP: this.training ? this.dropout : 0,
      generator: this.generator,
    });
    const [n, , l] = o.shape;
    const out = this.outProj.forward(o.permute(0, 2, 1, 3).reshape(n, l, E));
    return this.batchFirst ? out : out.transpose(0, 1);
  }

  override extraRepr(): string {
    return '';
  }
}
