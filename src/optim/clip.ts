// Gradient clipping by global L2 norm (torch.nn.utils.clip_grad_norm_), entirely on the GPU: the
// total norm and the clip factor min(1, maxNorm / (norm + 1e-6)) never leave the device, so it
// costs no readback; the returned norm can be read with `await norm.item()` when wanted.

import type { Tensor } from '../tensor.ts';
import { scoped } from '../scope.ts';
import { noGrad } from '../autograd/graph.ts';
import { map, mapInto } from '../ops/map.ts';
import { sum } from '../ops/reduce.ts';
import { stack } from '../ops/shape.ts';
import { fill } from '../ops/creation-internal.ts';

/**
 * Scales the gradients of `params` in place so that their global L2 norm is at most maxNorm.
 * Returns the norm before clipping, as a scalar tensor (parameters without a gradient are skipped).
 *
 * @example
 * const model = new nn.Linear(8, 2);
 * model.forward(randn([4, 8])).sum().backward();
 * const norm = optim.clipGradNorm(model.parameters(), 1.0); // read it with await norm.item()
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number, opts: { eps?: number } = {}): Tensor {
  if (!(maxNorm >= 0)) throw new Error(`clipGradNorm: maxNorm must be ≥ 0, got ${maxNorm}`);
  const grads = [...params].map((p) => p.grad).filter((g): g is Tensor => g !== null);
  return noGrad(() => {
    if (grads.length === 0) return fill([], 0);
    const norm = scoped(() => {
      const squares = grads.map((g) => sum(map([g], 'x0 * x0', 'clipGradNorm')));
      const total = squares.length === 1 ? squares[0] : sum(stack(squares, 0));
      return map([total], 'sqrt(x0)', 'clipGradNorm');
    });
    scoped(() => {
      const coef = map([norm], 'min(p.a / (x0 + p.b), 1.0)', 'clipGradNorm', maxNorm, opts.eps ?? 1e-6);
      for (const g of grads) mapInto(g, [g, coef], 'x0 * x1', 'clipGradNorm');
    });
    return norm;
  });
}
