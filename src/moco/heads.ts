// The projection and prediction MLPs of MoCo v3 and NNCLR, built like MoCo v3's `_build_mlp`
// (official moco-v3 builder.py): every hidden layer is Linear (no bias) → BatchNorm1d → ReLU; the
// last layer is Linear (no bias), followed by BatchNorm1d without affine parameters when `lastBN`.
// Child names follow nn.Sequential's numbering, so state dicts match PyTorch's.

import * as nn from '../nn/index.ts';

/**
 * An MLP head of `layers` Linear layers: inDim → hidden → … → hidden → outDim.
 * @example
 * mlpHead(2, 64, 256, 128, true) // Linear(64,256,no bias) BN ReLU Linear(256,128,no bias) BN(affine=False)
 */
export function mlpHead(layers: number, inDim: number, hidden: number, outDim: number, lastBN: boolean): nn.Sequential {
  if (!Number.isInteger(layers) || layers < 1) throw new Error(`mlpHead: layers must be a positive integer (got ${layers})`);
  const mods: nn.Module[] = [];
  for (let l = 0; l < layers; l++) {
    const a = l === 0 ? inDim : hidden;
    const b = l === layers - 1 ? outDim : hidden;
    mods.push(new nn.Linear(a, b, { bias: false }));
    if (l < layers - 1) mods.push(new nn.BatchNorm1d(b), new nn.ReLU());
    else if (lastBN) mods.push(new nn.BatchNorm1d(b, { affine: false }));
  }
  return new nn.Sequential(...mods);
}
