// Shape ops: views (reshape/view, permute/transpose, expand, squeeze/unsqueeze, slice/narrow,
// flatten) and copies (contiguous, concat, stack, indexSelect, gather). Forward vs the float64
// reference, gradients vs finite differences, on contiguous and non-contiguous inputs; plus
// checks that views really share storage and that the strides/offsets they produce are read
// correctly by later kernels.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tensor, tensor, arange, concat, stack } from '../../src/index.ts';
import * as R from '../../src/reference/index.ts';
import { setup, checkForward, checkGrad } from '../helpers.ts';
import { make, host, expectRef, type Layout } from './values.ts';

test.before(setup);

async function checkBoth(f: (...xs: Tensor[]) => Tensor, xs: Tensor[], what: string): Promise<void> {
  await checkForward(f, xs, 1e-5, what);
  await checkGrad(f, xs, {}, what);
}

const LAYOUTS: Layout[] = ['contiguous', 'transposed', 'sliced', 'expanded'];

test('reshape / view: -1, rank changes, non-contiguous sources (copied)', async () => {
  const targets: number[][] = [[12], [-1], [3, 4], [2, -1, 3], [1, 2, 1, 3, 2, 1], [2, 1, 2, 1, 3, 1, 1, 1]];
  let seed = 1;
  for (const layout of LAYOUTS) {
    for (const shape of targets) {
      const x = make([4, 3], { seed: seed++, layout });
      await checkBoth((t) => t.reshape(shape).mul(1), [x], `reshape ${layout} → [${shape}]`);
    }
  }
  const x = make([2, 3, 4], { seed: 2 });
  await checkBoth((t) => t.view(4, -1).mul(1), [x], 'view(4, -1)');
  await checkBoth((t) => t.view([6, 4]), [x], 'view([6, 4])');
  await checkBoth((t) => t.reshape([]).mul(1), [make([1, 1], { seed: 3 })], 'reshape to rank 0');
});

test('reshape of a contiguous tensor is a view; of a transposed one, a copy', () => {
  const x = make([4, 6], { seed: 1 });
  const v = x.reshape(3, 8);
  assert.is(v.storage, x.storage);
  const t = x.T.reshape(24);
  assert.is.not(t.storage, x.storage);
  assert.ok(t.isContiguous);
});

test('permute / transpose, including rank 5 and .T', async () => {
  const x = make([2, 3, 1, 4, 2], { seed: 4 });
  for (const dims of [
    [4, 3, 2, 1, 0],
    [1, 0, 2, 4, 3],
    [2, 4, 0, 3, 1],
    [-1, 0, 1, 2, 3],
  ]) {
    await checkBoth((t) => t.permute(dims), [x], `permute [${dims}]`);
    await checkBoth((t) => t.permute(dims).contiguous(), [x], `permute [${dims}] contiguous`);
  }
  for (const layout of LAYOUTS) {
    const m = make([3, 5], { seed: 5, layout });
    await checkBoth((t) => t.T, [m], `.T ${layout}`);
    await checkBoth((t) => t.transpose(0, 1).exp(), [m], `transpose then exp ${layout}`);
  }
  await checkBoth((t) => t.transpose(0, -1), [make([3, 2, 4], { seed: 6 })], 'transpose(0, -1)');
  const v = make([1], { seed: 7 });
  assert.is(v.transpose(), v, 'transpose of rank < 2 is the tensor itself');
});

test('expand: new leading dims, size-1 dims, -1, on strided inputs; a view with stride 0', async () => {
  await checkBoth((t) => t.expand(4, 3, 5), [make([3, 1], { seed: 8 })], 'expand [3,1] → [4,3,5]');
  await checkBoth((t) => t.expand(2, -1, 4), [make([3, 1], { seed: 9 })], 'expand with -1');
  await checkBoth((t) => t.expand([2, 2, 3]), [make([], { seed: 10 }).reshape(1, 1, 1).expand(1, 2, 1)], 'expand of an expanded view');
  await checkBoth((t) => t.expand(2, 5, 4).sum(1), [make([1, 4], { seed: 11, layout: 'sliced' })], 'expand a strided slice');
  await checkBoth((t) => t.reshape(1, 3).expand(4, 3).mul(t), [make([3], { seed: 12 })], 'expanded use of a tensor reused');
  const x = make([3, 1], { seed: 8 });
  const e = x.expand(3, 6);
  assert.is(e.storage, x.storage);
  assert.equal(e.strides, [1, 0]);
});

test('squeeze / unsqueeze / flatten', async () => {
  const x = make([2, 1, 3, 1], { seed: 13 });
  await checkBoth((t) => t.squeeze(), [x], 'squeeze()');
  await checkBoth((t) => t.squeeze(1), [x], 'squeeze(1)');
  await checkBoth((t) => t.squeeze(-1), [x], 'squeeze(-1)');
  assert.is(x.squeeze(0), x, 'squeeze of a dim that is not 1 is a no-op');
  assert.equal(x.squeeze().shape, [2, 3]);
  for (const d of [0, 2, 4, -1, -5]) {
    await checkBoth((t) => t.unsqueeze(d), [x], `unsqueeze(${d})`);
  }
  assert.equal(x.unsqueeze(-1).shape, [2, 1, 3, 1, 1]);
  assert.equal(x.unsqueeze(0).shape, [1, 2, 1, 3, 1]);
  const y = make([2, 3, 4, 5], { seed: 14, layout: 'transposed' });
  await checkBoth((t) => t.flatten(), [y], 'flatten()');
  await checkBoth((t) => t.flatten(1), [y], 'flatten(1)');
  await checkBoth((t) => t.flatten(1, 2), [y], 'flatten(1, 2)');
  await checkBoth((t) => t.flatten(0, -2), [y], 'flatten(0, -2)');
  assert.equal(y.flatten(1, 2).shape, [2, 12, 5]);
  assert.equal(tensor(2).flatten().shape, [1]);
  assert.equal(tensor(2).unsqueeze(0).shape, [1]);
});

test('contiguous / clone copy strided views', async () => {
  for (const layout of ['transposed', 'sliced', 'expanded'] as const) {
    const x = make([3, 4], { seed: 15, layout });
    assert.ok(!x.isContiguous, layout);
    await checkBoth((t) => t.contiguous(), [x], `contiguous ${layout}`);
    const c = x.contiguous();
    assert.ok(c.isContiguous);
    assert.equal(c.strides, [4, 1]);
  }
  const x = make([3, 4], { seed: 16 });
  assert.is(x.contiguous(), x, 'contiguous of a contiguous tensor is itself');
  await checkBoth((t) => t.clone(), [x], 'clone');
  assert.is.not(x.clone().storage, x.storage);
});

test('slice / narrow: negative bounds, steps, clamping, empty results, slices of slices', async () => {
  const x = make([5, 7, 3], { seed: 17 });
  const cases: [number, number | undefined, number | undefined, number][] = [
    [0, 1, 4, 1],
    [1, 0, undefined, 2],
    [1, 1, undefined, 3],
    [-1, -2, undefined, 1],
    [1, -5, -1, 2],
    [0, 2, 100, 1], // end clamps to the size
    [2, 0, 3, 5], // step larger than the extent: one element
  ];
  for (const [dim, start, end, step] of cases) {
    await checkBoth((t) => t.slice(dim, start, end, step), [x], `slice(${dim}, ${start}, ${end}, ${step})`);
  }
  await checkBoth((t) => t.narrow(1, 2, 4), [x], 'narrow(1, 2, 4)');
  await checkBoth((t) => t.slice(0, 1, 5, 2).slice(1, 1, 6, 2).slice(2, 1), [x], 'slice of slice of slice');
  await checkBoth((t) => t.T.slice(0, 1, undefined, 2), [make([4, 6], { seed: 18 })], 'slice of a transpose');
  assert.equal(x.slice(1, 5, 2).shape, [5, 0, 3], 'start past end gives an empty slice');
  assert.equal(Array.from(await x.slice(1, 5, 2).toArray()), []);
  // Values: narrow of arange.
  const a = arange(10);
  assert.equal(Array.from(await a.slice(0, 1, 9, 3).toArray()), [1, 4, 7]);
  assert.equal(Array.from(await a.narrow(0, 7, 3).toArray()), [7, 8, 9]);
  assert.is(a.slice(0, 2).storage, a.storage, 'a slice is a view');
});

test('concat along each dim, with strided and differently sized inputs', async () => {
  for (const dim of [0, 1, -1]) {
    const shapes = [
      [2, 3, 4],
      [2, 3, 4],
      [2, 3, 4],
    ].map((s, i) => {
      const t = [...s];
      t[dim < 0 ? dim + 3 : dim] = i + 1; // sizes 1, 2, 3 along dim
      return t;
    });
    const xs = [
      make(shapes[0], { seed: 20 }),
      make(shapes[1], { seed: 21, layout: 'transposed' }),
      make(shapes[2], { seed: 22, layout: 'sliced' }),
    ];
    await checkBoth((...ts) => concat(ts, dim), xs, `concat dim ${dim}`);
    await expectRef(concat(xs, dim), R.concat(await Promise.all(xs.map(host)), { dim }), 0, `concat values dim ${dim}`);
  }
  // A tensor concatenated with itself receives both gradients.
  await checkBoth((t) => concat([t, t.mul(2), t], 1), [make([3, 2], { seed: 23 })], 'concat of one tensor thrice');
  await checkBoth((t) => concat([t], 0), [make([3, 2], { seed: 24 })], 'concat of one');
});

test('stack along a new dim at every position', async () => {
  const xs = [make([2, 3], { seed: 30 }), make([2, 3], { seed: 31, layout: 'transposed' }), make([2, 3], { seed: 32, layout: 'expanded' })];
  for (const dim of [0, 1, 2, -1, -3]) {
    await checkBoth((...ts) => stack(ts, dim), xs, `stack dim ${dim}`);
    const want = R.stack(await Promise.all(xs.map(host)), { dim: dim < 0 ? dim + 3 : dim });
    await expectRef(stack(xs, dim), want, 0, `stack values dim ${dim}`);
  }
  await checkBoth((a, b) => stack([a, b]), [make([], { seed: 33 }), make([], { seed: 34 })], 'stack of rank-0 tensors');
});

test('indexSelect: repeated indices accumulate gradients; array or tensor index', async () => {
  const x = make([5, 4, 3], { seed: 40 });
  const idx = [4, 0, 0, 2, 4, 4];
  for (const dim of [0, 1, 2, -1]) {
    const n = x.shape[dim < 0 ? dim + 3 : dim];
    const index = idx.map((v) => v % n);
    await checkBoth((t) => t.indexSelect(dim, index), [x], `indexSelect dim ${dim} (array)`);
    await checkBoth((t) => t.indexSelect(dim, tensor(index, undefined, { dtype: 'int32' })), [x], `indexSelect dim ${dim} (tensor)`);
    await expectRef(
      x.indexSelect(dim, index),
      R.indexSelect(await host(x), R.refTensor(index, [index.length]), { dim }),
      0,
      `indexSelect values dim ${dim}`,
    );
  }
  for (const layout of ['transposed', 'sliced', 'expanded'] as const) {
    await checkBoth((t) => t.indexSelect(0, [2, 1, 2]), [make([3, 4], { seed: 41, layout })], `indexSelect ${layout}`);
  }
  // Index given as a strided view of a tensor.
  const strided = tensor([2, 9, 0, 9, 2, 9], undefined, { dtype: 'int32' }).slice(0, 0, undefined, 2);
  await checkBoth((t) => t.indexSelect(0, strided), [make([3, 2], { seed: 42 })], 'indexSelect strided index');
  // Closed-form gradient: row 4 picked three times gets 3.
  const leaf = make([5, 2], { seed: 43 }).requiresGrad_();
  leaf.indexSelect(0, [4, 0, 4, 4]).sum().backward();
  assert.equal(Array.from(await leaf.grad!.toArray()), [1, 1, 0, 0, 0, 0, 0, 0, 3, 3]);
});

test('gather along each dim, with repeated indices and an index longer than the dim', async () => {
  const x = make([3, 4, 2], { seed: 50 });
  for (const dim of [0, 1, 2, -1]) {
    const d = dim < 0 ? dim + 3 : dim;
    const ishape = [...x.shape];
    ishape[d] = 5;
    const n = x.shape[d];
    const index = tensor(
      Array.from({ length: ishape.reduce((a, b) => a * b, 1) }, (_, i) => (i * 7 + 3) % n),
      ishape,
      { dtype: 'int32' },
    );
    await checkBoth((t) => t.gather(dim, index), [x], `gather dim ${dim}`);
    await expectRef(x.gather(dim, index), R.gather(await host(x), await host(index), { dim }), 0, `gather values dim ${dim}`);
  }
  const m = make([3, 4], { seed: 51, layout: 'transposed' });
  const index = tensor(
    [
      [0, 3],
      [2, 2],
      [1, 0],
    ],
    undefined,
    { dtype: 'int32' },
  );
  await checkBoth((t) => t.gather(1, index), [m], 'gather from a transposed input');
  await checkBoth((t) => t.gather(1, index.T.contiguous().T), [m], 'gather with a transposed index');
  // Picking the target class of each row (cross-entropy style): closed form.
  const leaf = tensor(
    [
      [1, 2, 3],
      [4, 5, 6],
    ],
    undefined,
    { requiresGrad: true },
  );
  const picked = leaf.gather(1, tensor([[2], [0]], undefined, { dtype: 'int32' }));
  assert.equal(Array.from(await picked.toArray()), [3, 4]);
  picked.sum().backward();
  assert.equal(Array.from(await leaf.grad!.toArray()), [0, 0, 1, 1, 0, 0]);
});

test('views of views feed every kernel correctly (offsets and strides)', async () => {
  // A slice with an offset, transposed, expanded, then reduced and multiplied.
  const f = (a: Tensor, b: Tensor) =>
    a
      .slice(0, 1, 4)
      .T.unsqueeze(0)
      .expand(2, -1, -1)
      .matmul(b)
      .sum(0)
      .mul(a.slice(1, 0, 1).T.sum());
  await checkBoth(f, [make([5, 3], { seed: 60 }), make([3, 2], { seed: 61, layout: 'transposed' })], 'chain of views');
});

test.run();
