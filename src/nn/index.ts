// wgrad.nn — modules in the style of torch.nn: the Module base class (parameters, buffers,
// train/eval, state dicts, printing), the standard layers, initialisers, and the MoCo backbones.
// Exported from the package as the namespace `nn`: `new nn.Linear(4, 2)`.
//
// Imports point one way: nn → ops/autograd → tensor → device.

export { Module, ModuleList, ModuleDict, parameter, stateName, pyFloat, type LoadResult } from './module.ts';
export {
  Linear,
  Conv2d,
  BatchNorm1d,
  BatchNorm2d,
  SplitBatchNorm2d,
  ReLU,
  MaxPool2d,
  AvgPool2d,
  AdaptiveAvgPool2d,
  Flatten,
  Identity,
  Dropout,
  Sequential,
  type Conv2dOptions,
  type BatchNormOptions,
  type Pool2dOptions,
} from './layers.ts';
export { Embedding } from './embedding.ts';
export {
  SmallConvNet,
  BasicBlock,
  Bottleneck,
  ResNet,
  resnet18Cifar,
  resnet50,
  type SmallConvNetOptions,
  type ResNetCifarOptions,
  type NormFactory,
} from './encoders.ts';
export { GELU, SiLU, LeakyReLU, ELU, Softplus } from './activations.ts';
export { LayerNorm, MultiheadAttention, type MultiheadAttentionOptions } from './transformer.ts';
export * as init from './init.ts';
