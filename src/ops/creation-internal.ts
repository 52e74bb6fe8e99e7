// Creating tensors filled on the GPU or uploaded from the host (used by autograd and ops; the
// public creation functions in creation.ts wrap these).

import { Tensor } from '../tensor.ts';
import { device } from '../runtime.ts';
import { fmt, numel } from '../shape.ts';
import { map } from './map.ts';
import { checkDType, type DType } from '../dtype.ts';
import { toInt32 } from '../tensor.ts';

export function fill(shape: readonly number[], value: number, dtype: DType = 'float32'): Tensor {
  if (checkDType('full', dtype) === 'int32') toInt32('full', [value]);
  return map([], 'p.a', 'full', value, 0, shape, { compute: dtype });
}

export function fromArray(data: ArrayLike<number>, shape: readonly number[], dtype: DType = 'float32'): Tensor {
  const n = numel(shape);
  if (data.length !== n) throw new Error(`tensor: ${data.length} values do not fill shape ${fmt(shape)} (needs ${n})`);
  const t = Tensor.empty(shape, device(), checkDType('tensor', dtype));
  if (n > 0) {
    const typed = dtype === 'int32' ? toInt32('tensor', data) : data instanceof Float32Array ? data : Float32Array.from(data);
    t.device.upload(t.storage.buffer, 0, typed);
  }
  return t;
}
