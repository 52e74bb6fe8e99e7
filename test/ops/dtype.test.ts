// int32 beside float32: exact storage and arithmetic above 2^24, PyTorch's promotion (int32 with
// int32 stays int32, with float32 becomes float32, true division is float), comparison and argmax
// results as int32, conversions, creation, and the errors for what int32 does not support.
// Expected values are computed here in float64 (or exactly, for integers).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setup, assertClose, randnSeeded, kernelsOf } from '../helpers.ts';
import {
  tensor,
  arange,
  randint,
  randperm,
  full,
  zerosLike,
  where,
  argmax,
  argmin,
  sum,
  crossEntropy,
  setAnomalyDetection,
  type Tensor,
} from '../../src/index.ts';
import { Generator } from '../../src/random.ts';
import { encodeTensors, decodeTensors, readTensors } from '../../src/io/checkpoint.ts';

test.before(setup);

const int = (data: number | number[] | number[][], shape?: number[]) => tensor(data, shape, { dtype: 'int32' });
const ints = async (t: Tensor) => {
  const a = await t.toArray<Int32Array>();
  assert.ok(a instanceof Int32Array, `expected an Int32Array for ${t}`);
  return Array.from(a);
};

test('int32 values round-trip exactly, beyond 2^24 and at the int32 limits', async () => {
  const big = [16777217, -16777217, 2147483647, -2147483648, 0, 123456789];
  const t = int(big);
  assert.is(t.dtype, 'int32');
  assert.equal(await ints(t), big);
  assert.is(await int(16777217, []).item(), 16777217);
  assert.equal(await ints(tensor(Int32Array.from([5, -7]))), [5, -7], 'an Int32Array makes an int32 tensor');
  assert.is(tensor([1, 2]).dtype, 'float32', 'JS numbers default to float32');
  // Options as the second argument, as PyTorch users write torch.tensor(data, dtype=...).
  const second = tensor([[16777217, -3]], { dtype: 'int32' });
  assert.equal([second.dtype, second.shape, await ints(second)], ['int32', [1, 2], [16777217, -3]]);
  assert.is(tensor([1.5], { requiresGrad: true }).requiresGrad, true);
  assert.throws(() => tensor([1], 'int32' as never), /second argument must be a shape array or an options object/);
  assert.throws(() => int([1.5]), /tensor: value 1.5 at flat index 0 is not an int32/);
  assert.throws(() => int([2 ** 31]), /is not an int32/);
  assert.throws(() => tensor([1], undefined, { dtype: 'float64' as never }), /unknown dtype "float64"/);
  // writeData into an int32 tensor keeps integers exact.
  const w = int([0, 0]).writeData([16777217, -3]);
  assert.equal(await ints(w), [16777217, -3]);
  // Printed as PyTorch prints torch.int32 (torch.tensor([[16777217, -3], [0, 12]], dtype=torch.int32)).
  assert.is(
    await int([
      [16777217, -3],
      [0, 12],
    ]).format(),
    'tensor([[16777217,       -3],\n        [       0,       12]], dtype=torch.int32)',
  );
  assert.is(String(int([1])), "Tensor(shape=[1], dtype=int32, device='webgpu')");
});

test('int32 arithmetic stays int32 and exact; broadcasting, rank 0 and strided views', async () => {
  const a = int([
    [16777216, 5, -7],
    [100000000, 0, 3],
  ]);
  const b = int([1, -2, 4]);
  const sumT = a.add(b);
  assert.is(sumT.dtype, 'int32');
  assert.equal(await ints(sumT), [16777217, 3, -3, 100000001, -2, 7]);
  assert.equal(await ints(a.sub(b)), [16777215, 7, -11, 99999999, 2, -1]);
  assert.equal(await ints(a.mul(b)), [16777216, -10, -28, 100000000, 0, 12]);
  assert.equal(await ints(a.maximum(b)), [16777216, 5, 4, 100000000, 0, 4]);
  assert.equal(await ints(a.minimum(b)), [1, -2, -7, 1, -2, 3]);
  assert.equal(await ints(a.neg()), [-16777216, -5, 7, -100000000, 0, -3]);
  assert.equal(await ints(a.abs()), [16777216, 5, 7, 100000000, 0, 3]);
  assert.equal(await ints(a.relu()), [16777216, 5, 0, 100000000, 0, 3]);
  assert.equal(await ints(b.square()), [1, 4, 16]);
  // Integer scalars keep int32 (exactly, beyond 2^24); rank 0 broadcasts.
  assert.equal(await ints(a.add(1)), [16777217, 6, -6, 100000001, 1, 4]);
  assert.equal(await ints(a.mul(3)), [50331648, 15, -21, 300000000, 0, 9]);
  assert.equal(await ints(a.add(int(16777217, []))), [33554433, 16777222, 16777210, 116777217, 16777217, 16777220]);
  // A transposed (non-contiguous) int32 view, both the strided and the vec4 kernels.
  const row = int([[1, 2]]);
  let sum = a;
  assert.equal(await kernelsOf(() => (sum = a.T.add(row))), ['elementwise']);
  assert.equal(await ints(sum), [16777217, 100000002, 6, 2, -6, 5]);
  const v = int([1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(await kernelsOf(() => (sum = v.add(v))), ['elementwise_vec4']);
  assert.equal(await ints(sum), [2, 4, 6, 8, 10, 12, 14, 16], 'vec4 path');
  assert.equal(await ints(a.T.contiguous()), [16777216, 100000000, 5, 0, -7, 3], 'contiguous keeps int32');
});

test('mixed dtypes promote to float32 as in PyTorch; true division; float scalars', async () => {
  const a = int([
    [3, -7, 16777217],
    [1, 2, 9],
  ]);
  const f = randnSeeded([3], 5);
  const fh = Array.from(await f.toArray());
  const ah = [3, -7, 16777217, 1, 2, 9];
  const out = a.add(f);
  assert.is(out.dtype, 'float32');
  assertClose(
    await out.toArray(),
    ah.map((v, i) => v + fh[i % 3]),
    1e-6,
    'int32 + float32 (broadcast)',
  );
  assertClose(
    await f.mul(a).toArray(),
    ah.map((v, i) => v * fh[i % 3]),
    1e-6,
    'float32 * int32',
  );
  const q = a.div(int([2, 4, 3]));
  assert.is(q.dtype, 'float32');
  assertClose(
    await q.toArray(),
    ah.map((v, i) => v / [2, 4, 3][i % 3]),
    1e-7,
    'int32 / int32 is true division',
  );
  assertClose(
    await a.div(2).toArray(),
    ah.map((v) => v / 2),
    1e-7,
    'int32 / number',
  );
  assertClose(
    await a.mul(0.5).toArray(),
    ah.map((v) => v * 0.5),
    1e-7,
    'int32 * fractional scalar → float32',
  );
  assert.is(a.mul(0.5).dtype, 'float32');
  const small = int([
    [-3, 0],
    [2, 5],
  ]);
  assert.is(small.exp().dtype, 'float32');
  assertClose(await small.exp().toArray(), [-3, 0, 2, 5].map(Math.exp), 1e-6, 'exp of int32 is float32');
  // Gradients flow to the float operand only.
  const w = randnSeeded([3], 6).requiresGrad_();
  w.mul(a).sum().backward();
  assertClose(await w.grad!.toArray(), [3 + 1, -7 + 2, 16777217 + 9], 1e-6, 'd/dw sum(w * a)');
});

test('comparisons, where and argmax/argmin give int32', async () => {
  const a = int([16777217, 16777216, -1]);
  const b = int([16777216, 16777216, 0]);
  assert.equal(await ints(a.gt(b)), [1, 0, 0], 'above 2^24 compared exactly');
  assert.equal(await ints(a.eq(b)), [0, 1, 0]);
  assert.equal(await ints(a.ge(16777217)), [1, 0, 0]);
  assert.equal(await ints(a.le(16777216)), [0, 1, 1]);
  assert.equal(await ints(tensor([0.5, 2]).lt(1)), [1, 0], 'float comparisons give int32 too');
  assert.equal(await ints(where(a.gt(b), a, b)), [16777217, 16777216, 0]);
  const x = tensor([
    [1, 9, 9],
    [4, 0, 2],
  ]);
  const am = argmax(x, 1);
  assert.is(am.dtype, 'int32');
  assert.equal(await ints(am), [1, 0]);
  assert.equal(await ints(argmin(x, 0)), [0, 1, 1]);
  assert.equal(await ints(x.gt(1).sub(x.lt(5))), [-1, 1, 1, 0, -1, 0]);
  assert.equal(
    Array.from(
      await am
        .eq(tensor([1, 1]))
        .float()
        .toArray(),
    ),
    [1, 0],
  );
});

test('conversions: to / float / int (truncation toward zero, as PyTorch)', async () => {
  const f = tensor([2.9, -2.9, 0.5, -0.5, 1e6]);
  assert.equal(await ints(f.int()), [2, -2, 0, 0, 1000000]);
  assert.equal(await ints(f.to('int32')), [2, -2, 0, 0, 1000000]);
  const i = int([16777217, -3]);
  assert.is(i.float().dtype, 'float32');
  assert.equal(Array.from(await i.float().toArray()), [16777216, -3], 'float32 rounds as PyTorch does');
  assert.is(i.int(), i, 'to() the same dtype is the tensor itself');
  assert.throws(() => i.to('int64' as never), /to: unknown dtype "int64"/);
});

test('creation: arange of integers, full, randint, randperm', async () => {
  assert.is(arange(5).dtype, 'int32');
  assert.equal(await ints(arange(16777215, 16777219)), [16777215, 16777216, 16777217, 16777218]);
  assert.is(arange(0, 1, 0.25).dtype, 'float32');
  assert.is(arange(3, undefined, 1, { dtype: 'float32' }).dtype, 'float32');
  assert.equal(await ints(full([2], 16777217, { dtype: 'int32' })), [16777217, 16777217]);
  assert.equal(await ints(zerosLike(int([4, 5]))), [0, 0]);
  const r = randint(-3, 4, [1000], { generator: new Generator(3) });
  assert.is(r.dtype, 'int32');
  const rv = await ints(r);
  assert.ok(
    rv.every((v) => v >= -3 && v < 4),
    'randint in [low, high)',
  );
  assert.equal(new Set(rv).size, 7, 'randint hits every value of a small range');
  assert.throws(() => randint(5, 5, [2]), /randint: needs integers low < high/);
  const p = await ints(randperm(50, { generator: new Generator(4) }));
  assert.equal(
    [...p].sort((x, y) => x - y),
    Array.from({ length: 50 }, (_, k) => k),
  );
  assert.throws(() => tensor([1], undefined, { dtype: 'int32', requiresGrad: true }), /only float32 tensors can require gradients/);
  assert.throws(() => int([1]).requiresGrad_(), /only float32 tensors can require gradients/);
});

test('unsupported int32 combinations are clear errors naming the op and the dtypes', async () => {
  const i = int([1, 2]);
  assert.throws(() => i.pow(2), /pow: not supported for int32 operands \(dtypes int32\); convert with \.float\(\) first/);
  assert.throws(() => i.pow(int([1, 2])), /pow: not supported for int32 operands \(dtypes int32, int32\)/);
  assert.throws(() => sum(i), /sum: takes a float32 tensor but was given int32/);
  assert.throws(() => argmax(i, 0), /argmax: takes a float32 tensor but was given int32/);
  assert.throws(
    () => int([[1, 2]]).matmul(int([[1], [2]])),
    /^matmul: takes float32 tensors but was given an int32 tensor; convert it with \.float\(\) \(or \.to\('float32'\)\) first$/,
  );
  assert.throws(() => tensor([[1, 2]]).gather(1, tensor([[0]])), /gather: index tensors must be int32, got float32/);
  assert.throws(
    () => tensor([[1, 2]]).indexSelect(1, [2]),
    /indexSelect: index 2 at position 0 is out of range; valid indices are integers in 0\.\.1/,
  );
  assert.throws(() => tensor([[1, 2]]).indexSelect(1, [0.5]), /indexSelect: index 0\.5 at position 0 is out of range/);
  // Gathering from int32 keeps int32, exactly.
  assert.equal(await ints(int([16777217, 5, -3]).indexSelect(0, [2, 0, 0])), [-3, 16777217, 16777217]);
  assert.equal(await ints(int([[1, 16777217]]).gather(1, int([[1, 0, 1]]))), [16777217, 1, 16777217]);
});

test('labels and indices: float tensors refused, host values checked, GPU values out of range give NaN (anomaly mode names the op)', async () => {
  const logits = tensor([
    [1, 2, 3],
    [0, 0, 1],
  ]);
  // Fractional labels cannot reach the kernel any more: float label tensors are refused.
  assert.throws(() => crossEntropy(logits, tensor([0, 1.5])), /crossEntropy: target tensors must be int32 class indices, got float32/);
  assert.throws(() => crossEntropy(logits, [0, 1.5]), /crossEntropy: target 1.5 at position 1 is out of range for 3 classes/);
  assert.throws(
    () => crossEntropy(logits, [0, 3]),
    /crossEntropy: target 3 at position 1 is out of range for 3 classes \(input \[2, 3\]\); targets must be integers in 0\.\.2/,
  );
  // Values inside an int32 tensor are not read back (that would wait for the GPU): out of range → NaN.
  assert.ok(Number.isNaN(await crossEntropy(logits, int([0, 3])).item()));
  assert.ok(Number.isNaN((await logits.gather(1, int([[0], [-1]])).toArray())[1]), 'gather: NaN for an out-of-range index tensor value');
  setAnomalyDetection(true);
  try {
    await logits
      .gather(1, int([[0], [7]]))
      .sum()
      .item()
      .then(
        () => assert.unreachable('anomaly mode should reject'),
        (e: Error) => {
          assert.match(
            e.message,
            /wgrad anomaly detection: op 'gather' \(inputs \[2, 3\], \[2, 1\]; output \[2, 1\]\) produced a non-finite value/,
          );
        },
      );
  } finally {
    setAnomalyDetection(false);
  }
});

test('int32 tensors save as I32 and load back int32, exactly', async () => {
  const labels = int([16777217, -2147483648, 2147483647]);
  const w = tensor([0.5, -1]);
  const [hl, hw] = await readTensors([labels, w]);
  assert.ok(hl instanceof Int32Array && hw instanceof Float32Array, 'readTensors keeps each dtype');
  const { tensors } = decodeTensors(await encodeTensors({ labels, w }));
  assert.is(tensors.labels.dtype, 'int32');
  assert.is(tensors.w.dtype, 'float32');
  assert.equal(await ints(tensors.labels), [16777217, -2147483648, 2147483647]);
  assert.equal(Array.from(await tensors.w.toArray()), [0.5, -1]);
});

test.run();
