// ResNet-50 (torchvision layout: 7×7 stem, max-pool, Bottleneck blocks [3, 4, 6, 3], stride on the
// 3×3) forward + backward in TensorFlow.js, for the resnet50 group of `npm run bench -- --peers`:
// batch-statistics BatchNorm (training mode, running statistics not tracked), global average pool,
// the sum of the 2048 features as the loss, gradients of every weight. tfjs works in NHWC.

type TF = typeof import('@tensorflow/tfjs-core');
type T = import('@tensorflow/tfjs-core').Tensor;
type V = import('@tensorflow/tfjs-core').Variable;
type T4 = import('@tensorflow/tfjs-core').Tensor4D;

export function resnet50Tfjs(tf: TF, batch: number, side: number): { step: () => void; dispose: () => void } {
  const vars: V[] = [];
  const conv = (k: number, ci: number, co: number) => {
    const v = tf.variable(tf.randomNormal([k, k, ci, co], 0, Math.sqrt(2 / (k * k * co))));
    vars.push(v);
    return v;
  };
  const bn = (c: number) => {
    const g = tf.variable(tf.ones([c]));
    const b = tf.variable(tf.zeros([c]));
    vars.push(g, b);
    return (x: T) => {
      const { mean, variance } = tf.moments(x, [0, 1, 2], true);
      return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), g), b);
    };
  };
  type Layer = (x: T4) => T4;
  const convBn = (k: number, ci: number, co: number, stride: number): Layer => {
    const w = conv(k, ci, co);
    const norm = bn(co);
    return (x) => norm(tf.conv2d(x, w as unknown as T4, stride, k === 1 ? 'valid' : 'same')) as T4;
  };
  const blocks: Layer[] = [];
  let cin = 64;
  [
    [64, 3, 1],
    [128, 4, 2],
    [256, 6, 2],
    [512, 3, 2],
  ].forEach(([planes, n, stride]) => {
    for (let i = 0; i < n; i++) {
      const s = i === 0 ? stride : 1;
      const [a, b, c] = [convBn(1, cin, planes, 1), convBn(3, planes, planes, s), convBn(1, planes, 4 * planes, 1)];
      const down = s !== 1 || cin !== 4 * planes ? convBn(1, cin, 4 * planes, s) : null;
      blocks.push((x) => tf.relu(tf.add(c(tf.relu(b(tf.relu(a(x))))), down ? down(x) : x)) as T4);
      cin = 4 * planes;
    }
  });
  const stem = convBn(7, 3, 64, 2);
  const x = tf.randomUniform([batch, side, side, 3]) as T4;
  const loss = () => {
    let h = tf.maxPool(
      tf.pad(
        tf.relu(stem(x)),
        [
          [0, 0],
          [1, 1],
          [1, 1],
          [0, 0],
        ],
        -1e9,
      ) as T4,
      3,
      2,
      'valid',
    );
    for (const blk of blocks) h = blk(h);
    return tf.sum(tf.mean(h, [1, 2])) as import('@tensorflow/tfjs-core').Scalar;
  };
  return {
    step: () => {
      const { grads } = tf.variableGrads(loss, vars);
      tf.dispose(Object.values(grads));
    },
    dispose: () => tf.dispose([...vars, x]),
  };
}
