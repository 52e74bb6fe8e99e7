// loss.backward(): sort the graph topologically once (iteratively: deep networks would overflow
// the stack), walk it in reverse, and add each node's input gradients into a map, so a tensor
// used twice receives both contributions. Leaves with requiresGrad accumulate into `.grad`
// across calls, as in PyTorch (call zeroGrad between steps).
//
// A second backward() through the same graph throws, because the first one released the saved
// tensors; pass { retainGraph: true } to the first call to allow it (gradients then add up again).

import type { Tensor } from '../tensor.ts';
import { keep } from '../scope.ts';
import { fmt, sameShape } from '../shape.ts';
import { noGrad, needsGrad } from './graph.ts';
import { isAnomalyDetectionEnabled, checkedBackward } from './anomaly.ts';
import { fill } from '../ops/creation-internal.ts';
import { add } from '../ops/elementwise.ts';
import { contiguous } from '../ops/shape.ts';

export function topoSort(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: [Tensor, number][] = [[root, 0]];
  visited.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const next = inputs[i];
      if (!visited.has(next) && needsGrad(next)) {
        visited.add(next);
        stack.push([next, 0]);
      }
    } else {
      order.push(t);
      stack.pop();
    }
  }
  return order; // inputs before outputs
}

export function backward(root: Tensor, grad: Tensor | undefined, opts: { retainGraph?: boolean }): void {
  root.assertAlive('backward');
  if (!needsGrad(root)) {
    throw new Error(
      `backward: this tensor (shape ${fmt(root.shape)}) does not require grad: no input of the computation has requiresGrad set, or it was computed under noGrad()`,
    );
  }
  if (grad === undefined && root.size !== 1) {
    throw new Error(
      `backward: called on a tensor of shape ${fmt(root.shape)}; pass a gradient of the same shape, or reduce to a scalar first (e.g. loss.sum())`,
    );
  }
  if (grad && !sameShape(grad.shape, root.shape)) {
    throw new Error(`backward: gradient shape ${fmt(grad.shape)} does not match the tensor's shape ${fmt(root.shape)}`);
  }
  const order = topoSort(root);
  for (const t of order) {
    if (t.node && !t.node.backward && t.isDisposed) {
      throw new Error(
        `backward: tensor #${t.id} (shape ${fmt(t.shape)}, result of '${t.node.op}') on the path to the inputs was disposed before backward() (e.g. by the tidy() that created it); call backward() inside the same tidy() as the forward pass`,
      );
    }
    if (t.node && !t.node.backward) {
      throw new Error(
        `backward: trying to backward through the graph a second time (through '${t.node.op}'); the saved tensors were freed by the first call. Pass { retainGraph: true } to the first backward() if you need to call it twice.`,
      );
    }
  }
  noGrad(() => {
    const grads = new Map<Tensor, Tensor>();
    grads.set(root, grad ?? fill(root.shape, 1));
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const g = grads.get(t);
      if (!g) continue;
      if (t.node) {
        const node = t.node;
        const inputGrads = isAnomalyDetectionEnabled() ? checkedBackward(node.op, node.inputs, () => node.backward!(g)) : node.backward!(g);
        t.node.inputs.forEach((input, k) => {
          const gi = inputGrads[k];
          if (!gi || !needsGrad(input)) return;
          if (!sameShape(gi.shape, input.shape)) {
            throw new Error(
              `wgrad internal: backward of '${t.node!.op}' produced a gradient of shape ${fmt(gi.shape)} for an input of shape ${fmt(input.shape)}`,
            );
          }
          const prev = grads.get(input);
          grads.set(input, prev ? add(prev, gi) : gi);
        });
      } else if (t.requiresGrad) {
        if (t.grad) {
          const sum = add(t.grad, g);
          t.grad.dispose();
          t.grad = markGrad(keep(sum));
        } else {
          // A leaf owns its gradient: contiguous and not shared with any other tensor (not the
          // caller's `grad`, not a view into another gradient, not another leaf's .grad).
          const alone = g.isContiguous && g.offset === 0 && g.storage.numel === g.size && g.storage.refCount === 1;
          t.grad = markGrad(keep(alone && g !== grad && !isOwnedGrad(g) ? g : contiguous(g, true)));
        }
      }
    }
  });
  if (!opts.retainGraph) for (const t of order) if (t.node) t.node.backward = null;
}

const ownedGrads = new WeakSet<Tensor>();
function markGrad(t: Tensor): Tensor {
  ownedGrads.add(t);
  return t;
}
function isOwnedGrad(t: Tensor): boolean {
  return ownedGrads.has(t);
}
