// Creating tensors filled on the GPU or uploaded from the host (used by autograd and ops; the
// public creation functions in creation.ts wrap these).

import { Tensor } from '../tensor.ts';
import { device } from '../runtime.ts';
import { fmt, numel } from '../shape.ts';
import { map } from './map.ts';

export function fill(shape: readonly number[], value: number): Tensor {
  return map([], 'p.a', 'full', value, 0, shape);
}

export function fromArray(data: ArrayLike<number>, shape: readonly number[]): Tensor {
  const n = numel(shape);
  if (data.length !== n) throw new Error(`tensor: ${data.length} values do not fill shape ${fmt(shape)} (needs ${n})`);
  const t = Tensor.empty(shape, device());
  if (n > 0) {
    const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
    t.device.upload(t.storage.buffer, 0, f32);
  }
  return t;
}
