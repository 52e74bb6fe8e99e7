// wgrad.optim — optimizers in the style of torch.optim (SGD, Adam, AdamW, RMSprop; one fused kernel dispatch per
// parameter, state on the GPU), learning-rate schedules, and gradient clipping.
//
// Imports point one way: optim → ops/autograd → tensor → device.

export {
  Optimizer,
  type OptimizerStateDict,
  type ParamGroup,
  type ParamGroupSpec,
  type ParamsArg,
  type ParamState,
  type BaseHyper,
} from './optimizer.ts';
export { SGD, type SGDOptions, type SGDHyper } from './sgd.ts';
export { AdamW, type AdamWOptions, type AdamWHyper } from './adamw.ts';
export { Adam, type AdamOptions } from './adam.ts';
export { RMSprop, type RMSpropOptions, type RMSpropHyper } from './rmsprop.ts';
export {
  LRScheduler,
  constant,
  cosine,
  stepDecay,
  multiStep,
  linearWarmup,
  perStep,
  type Schedule,
  type SchedulerState,
} from './schedules.ts';
export { clipGradNorm } from './clip.ts';
