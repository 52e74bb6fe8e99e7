// nn.Embedding: a lookup table of learnable rows, as torch.nn.Embedding.

import type { Tensor } from '../tensor.ts';
import { randn } from '../creation.ts';
import { embedding } from '../ops/indexing.ts';
import { defaultGenerator, type Generator } from '../random.ts';
import { Module, parameter } from './module.ts';

/**
 * Rows of a [numEmbeddings, embeddingDim] weight (initialised N(0, 1), as PyTorch) picked by int32
 * indices: forward(input) is [...input.shape, embeddingDim].
 *
 * @example
 * const emb = new nn.Embedding(10, 3);
 * emb.forward(tensor([[0, 9]], undefined, { dtype: 'int32' })).shape; // [1, 2, 3]
 */
export class Embedding extends Module {
  weight: Tensor;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    opts: { generator?: Generator } = {},
  ) {
    super();
    for (const [name, v] of [
      ['numEmbeddings', numEmbeddings],
      ['embeddingDim', embeddingDim],
    ] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`nn.Embedding: ${name} must be a positive integer, got ${v}`);
    }
    this.weight = parameter(randn([numEmbeddings, embeddingDim], { generator: opts.generator ?? defaultGenerator }));
  }

  forward(input: Tensor | ArrayLike<number>): Tensor {
    return embedding(input, this.weight);
  }

  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}`;
  }
}
