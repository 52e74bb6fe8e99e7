// Backbones for MoCo and for supervised baselines. Each ends in a replaceable `fc` (Identity
// unless `numClasses` is given, so forward returns the backbone features) and exposes
// `featureDim`, the size of those features. `norm` chooses the normalisation layer (MoCo passes
// `c => new SplitBatchNorm2d(c, 8)` to simulate multi-GPU BatchNorm).

import type { Tensor } from '../tensor.ts';
import { Module, parameter } from './module.ts';
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Flatten, Identity, Linear, MaxPool2d, ReLU, Sequential, fusedReLU } from './layers.ts';
import { kaimingNormal } from './init.ts';
import { flatten } from '../ops/shape.ts';

/** Makes the normalisation layer for a number of channels (e.g. `(c) => new nn.SplitBatchNorm2d(c, 8)`). */
export type NormFactory = (channels: number) => Module;

const batchNorm2d: NormFactory = (c) => new BatchNorm2d(c);

/** Options of nn.SmallConvNet: width, input channels, optional classifier, normalisation layer. */
export interface SmallConvNetOptions {
  /** Channels of the first stage; the stages have width, 2·width, 4·width (default 32). */
  width?: number;
  inChannels?: number;
  /** Adds a Linear classifier as `fc`; without it `fc` is Identity. */
  numClasses?: number;
  norm?: NormFactory;
}

/**
 * A small VGG-style network for 28×28 / 32×32 images:
 *   [conv3×3 → norm → ReLU] × 2 (width), max-pool 2,
 *   [conv3×3 → norm → ReLU] × 2 (2·width), max-pool 2,
 *   conv3×3 → norm → ReLU (4·width), global average pool → 4·width features → fc.
 * Convolutions have no bias (the normalisation that follows has one). Each norm → ReLU pair of
 * `features` runs as one fused batch norm + ReLU (Sequential.forward, fusedReLU in layers.ts).
 *
 * @example
 * const backbone = new nn.SmallConvNet({ width: 16, inChannels: 1 });    // fc = Identity
 * backbone.forward(rand([8, 1, 28, 28])).shape;                          // [8, 64] = featureDim
 * const classifier = new nn.SmallConvNet({ width: 16, inChannels: 1, numClasses: 10 }); // [8, 10]
 */
export class SmallConvNet extends Module {
  features: Sequential;
  pool: AdaptiveAvgPool2d;
  flatten: Flatten;
  fc: Module;
  readonly featureDim: number;

  constructor(opts: SmallConvNetOptions = {}) {
    super();
    const w = opts.width ?? 32;
    const norm = opts.norm ?? batchNorm2d;
    const block = (cin: number, cout: number) => [new Conv2d(cin, cout, 3, { padding: 1, bias: false }), norm(cout), new ReLU()];
    this.features = new Sequential(
      ...block(opts.inChannels ?? 1, w),
      ...block(w, w),
      new MaxPool2d(2),
      ...block(w, 2 * w),
      ...block(2 * w, 2 * w),
      new MaxPool2d(2),
      ...block(2 * w, 4 * w),
    );
    this.pool = new AdaptiveAvgPool2d(1);
    this.flatten = new Flatten();
    this.featureDim = 4 * w;
    this.fc = opts.numClasses ? new Linear(this.featureDim, opts.numClasses) : new Identity();
  }

  forward(x: Tensor): Tensor {
    return this.fc.forward(this.flatten.forward(this.pool.forward(this.features.forward(x))));
  }
}

/**
 * ResNet's basic block: two 3×3 convolutions and a shortcut (1×1 conv + norm when the shape changes).
 *
 * @example
 * const block = new nn.BasicBlock(16, 32, 2, (c) => new nn.BatchNorm2d(c));
 * block.forward(randn([2, 16, 8, 8])).shape; // [2, 32, 4, 4]
 */
export class BasicBlock extends Module {
  conv1: Conv2d;
  bn1: Module;
  relu: ReLU;
  conv2: Conv2d;
  bn2: Module;
  downsample: Module | null;

  constructor(cin: number, cout: number, stride: number, norm: NormFactory) {
    super();
    this.conv1 = new Conv2d(cin, cout, 3, { stride, padding: 1, bias: false });
    this.bn1 = norm(cout);
    this.relu = new ReLU();
    this.conv2 = new Conv2d(cout, cout, 3, { padding: 1, bias: false });
    this.bn2 = norm(cout);
    this.downsample = stride !== 1 || cin !== cout ? new Sequential(new Conv2d(cin, cout, 1, { stride, bias: false }), norm(cout)) : null;
  }

  forward(x: Tensor): Tensor {
    // bn1 → relu runs as one fused batch norm + ReLU when bn1 is a batch norm layer (fusedReLU).
    const out = this.bn2.forward(this.conv2.forward(fusedReLU(this.bn1, this.relu, this.conv1.forward(x))));
    const shortcut = this.downsample ? this.downsample.forward(x) : x;
    return this.relu.forward(out.add(shortcut));
  }
}

/**
 * ResNet's bottleneck block (torchvision's, ResNet-50/101/152): 1×1 reduce, 3×3 (carrying the
 * stride, as torchvision's "v1.5"), 1×1 expand to 4 × `planes`, and a shortcut (1×1 conv + norm
 * when the shape changes).
 *
 * @example
 * const block = new nn.Bottleneck(64, 16, 2, (c) => new nn.BatchNorm2d(c));
 * block.forward(randn([2, 64, 8, 8])).shape; // [2, 64, 4, 4] (planes 16 × expansion 4)
 */
export class Bottleneck extends Module {
  static readonly expansion = 4;
  conv1: Conv2d;
  bn1: Module;
  conv2: Conv2d;
  bn2: Module;
  conv3: Conv2d;
  bn3: Module;
  relu: ReLU;
  downsample: Module | null;

  constructor(cin: number, planes: number, stride: number, norm: NormFactory) {
    super();
    const cout = planes * Bottleneck.expansion;
    this.conv1 = new Conv2d(cin, planes, 1, { bias: false });
    this.bn1 = norm(planes);
    this.conv2 = new Conv2d(planes, planes, 3, { stride, padding: 1, bias: false });
    this.bn2 = norm(planes);
    this.conv3 = new Conv2d(planes, cout, 1, { bias: false });
    this.bn3 = norm(cout);
    this.relu = new ReLU();
    this.downsample = stride !== 1 || cin !== cout ? new Sequential(new Conv2d(cin, cout, 1, { stride, bias: false }), norm(cout)) : null;
  }

  forward(x: Tensor): Tensor {
    const h = fusedReLU(this.bn2, this.relu, this.conv2.forward(fusedReLU(this.bn1, this.relu, this.conv1.forward(x))));
    const out = this.bn3.forward(this.conv3.forward(h));
    const shortcut = this.downsample ? this.downsample.forward(x) : x;
    return this.relu.forward(out.add(shortcut));
  }
}

/** Options of the ResNets: classifier size, width of the first stage, input channels, normalisation layer. */
export interface ResNetCifarOptions {
  numClasses?: number;
  /** Channels of the first stage; the four stages have width × 1, 2, 4, 8 (default 64). */
  width?: number;
  inChannels?: number;
  norm?: NormFactory;
}

/**
 * torchvision's ResNet layout (conv1, bn1, relu, maxpool, layer1..4, avgpool, fc), any block counts,
 * basic blocks (ResNet-18/34) or bottlenecks (ResNet-50/101/152, `block: 'bottleneck'`).
 *
 * @example
 * const resnet10 = new nn.ResNet([1, 1, 1, 1], { stem: 'cifar', width: 16, numClasses: 10 });
 * resnet10.forward(rand([2, 3, 32, 32])).shape; // [2, 10]
 */
export class ResNet extends Module {
  conv1: Conv2d;
  bn1: Module;
  relu: ReLU;
  maxpool: Module;
  layer1: Sequential;
  layer2: Sequential;
  layer3: Sequential;
  layer4: Sequential;
  avgpool: AdaptiveAvgPool2d;
  fc: Module;
  readonly featureDim: number;

  constructor(
    blocks: [number, number, number, number],
    opts: ResNetCifarOptions & { stem: 'cifar' | 'imagenet'; block?: 'basic' | 'bottleneck' },
  ) {
    super();
    const w = opts.width ?? 64;
    const norm = opts.norm ?? batchNorm2d;
    const cifar = opts.stem === 'cifar';
    this.conv1 = cifar
      ? new Conv2d(opts.inChannels ?? 3, w, 3, { stride: 1, padding: 1, bias: false })
      : new Conv2d(opts.inChannels ?? 3, w, 7, { stride: 2, padding: 3, bias: false });
    this.bn1 = norm(w);
    this.relu = new ReLU();
    this.maxpool = cifar ? new Identity() : new MaxPool2d(3, { stride: 2, padding: 1 });
    let cin = w;
    const bottleneck = opts.block === 'bottleneck';
    const expansion = bottleneck ? Bottleneck.expansion : 1;
    const stage = (planes: number, n: number, stride: number) => {
      const s = new Sequential();
      for (let i = 0; i < n; i++) {
        const st = i === 0 ? stride : 1;
        s.append(bottleneck ? new Bottleneck(cin, planes, st, norm) : new BasicBlock(cin, planes, st, norm));
        cin = planes * expansion;
      }
      return s;
    };
    this.layer1 = stage(w, blocks[0], 1);
    this.layer2 = stage(2 * w, blocks[1], 2);
    this.layer3 = stage(4 * w, blocks[2], 2);
    this.layer4 = stage(8 * w, blocks[3], 2);
    this.avgpool = new AdaptiveAvgPool2d(1);
    this.featureDim = 8 * w * expansion;
    this.fc = opts.numClasses ? new Linear(this.featureDim, opts.numClasses) : new Identity();
    // torchvision's initialisation: convolutions kaiming-normal (fan_out, relu); norms 1 / 0.
    for (const m of this.modules()) {
      if (m instanceof Conv2d) {
        const old = m.weight;
        m.weight = parameter(kaimingNormal(old.shape, { mode: 'fanOut', nonlinearity: 'relu' }));
        old.dispose();
      }
    }
  }

  forward(x: Tensor): Tensor {
    let h = this.maxpool.forward(fusedReLU(this.bn1, this.relu, this.conv1.forward(x)));
    for (const layer of [this.layer1, this.layer2, this.layer3, this.layer4]) h = layer.forward(h);
    return this.fc.forward(flatten(this.avgpool.forward(h), 1));
  }
}

/**
 * ResNet-18 for 32×32 images, as in the MoCo CIFAR recipes: 3×3 stem with stride 1 and no
 * max-pool (maxpool is Identity), BasicBlocks [2, 2, 2, 2], features of 8·width (512) → fc.
 *
 * @example
 * const backbone = nn.resnet18Cifar({ width: 8 });      // 64 features; width 64 is the real ResNet-18
 * backbone.forward(rand([2, 3, 32, 32])).shape;         // [2, 64]
 */
export function resnet18Cifar(opts: ResNetCifarOptions = {}): ResNet {
  return new ResNet([2, 2, 2, 2], { ...opts, stem: 'cifar' });
}

/**
 * ResNet-50 in torchvision's layout (7×7 stem with stride 2 and max-pool, Bottleneck blocks
 * [3, 4, 6, 3], 2048 features → fc): its state dict has torchvision's names, so the official MoCo
 * v1/v2 ImageNet checkpoints load once converted (scripts/torch/convert.py backbone).
 *
 * @example
 * const backbone = nn.resnet50();                        // fc = Identity: 2048 features (width 64)
 * const narrow = nn.resnet50({ width: 8 });               // the same layout, 256 features
 * narrow.eval().forward(rand([1, 3, 32, 32])).shape;     // [1, 256]
 */
export function resnet50(opts: ResNetCifarOptions & { stem?: 'cifar' | 'imagenet' } = {}): ResNet {
  return new ResNet([3, 4, 6, 3], { ...opts, stem: opts.stem ?? 'imagenet', block: 'bottleneck' });
}
