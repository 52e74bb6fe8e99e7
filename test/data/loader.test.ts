// BatchLoader (src/data/loader.ts): epochs cover the dataset exactly once, order is a function of
// the seed, dropLast, labels, uploaded pixels, augmentation determinism with and without prefetch,
// that prefetching really prepares the next batch while the caller waits, and ownership.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setup } from '../helpers.ts';
import { stats } from '../../src/index.ts';
import { BatchLoader, type Batch } from '../../src/data/loader.ts';
import { IDENTITY_AUGMENT } from '../../src/data/augment.ts';
import { imageSize } from '../../src/data/dataset.ts';
import { throwsWith, tinyDataset } from './helpers.ts';

test.before(setup);

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Indices of one epoch's batches. */
const epochIndices = (loader: BatchLoader): number[][] => [...loader.epoch()].map((b) => Array.from(b.indices));

test('every image exactly once per epoch (dropLast false), the short last batch kept', () => {
  const ds = tinyDataset(10, 1, 3, 4);
  const loader = new BatchLoader(ds, { batchSize: 3, dropLast: false, seed: 1 });
  assert.is(loader.length, 4);
  for (let e = 0; e < 3; e++) {
    const batches = [...loader.epoch()];
    assert.equal(
      batches.map((b) => b.indices.length),
      [3, 3, 3, 1],
    );
    assert.equal(
      batches.map((b) => b.index),
      [0, 1, 2, 3],
    );
    assert.ok(
      batches.every((b) => b.epoch === e),
      `epoch number ${e}`,
    );
    const all = batches.flatMap((b) => Array.from(b.indices)).sort((a, b) => a - b);
    assert.equal(all, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  }
  loader.close();
});

test('dropLast (the default): only full batches, all distinct, the dropped tail changes per epoch', () => {
  const ds = tinyDataset(10, 1, 3, 4);
  const loader = new BatchLoader(ds, { batchSize: 3, seed: 2 });
  assert.is(loader.length, 3);
  const dropped = new Set<number>();
  for (let e = 0; e < 6; e++) {
    const idx = epochIndices(loader);
    assert.equal(
      idx.map((b) => b.length),
      [3, 3, 3],
    );
    const flat = idx.flat();
    assert.is(new Set(flat).size, 9, 'no image twice in an epoch');
    for (let i = 0; i < 10; i++) if (!flat.includes(i)) dropped.add(i);
  }
  assert.ok(dropped.size > 1, 'the dropped image varies with the shuffle');
  loader.close();
  throwsWith(() => new BatchLoader(ds, { batchSize: 11 }), 'fewer than one batch of 11', 'dropLast: false');
  assert.is(new BatchLoader(ds, { batchSize: 11, dropLast: false }).length, 1);
});

test('order: a function of the seed; epochs differ; shuffle false keeps dataset order', () => {
  const ds = tinyDataset(40, 1, 2, 2);
  const run = (seed: number) => {
    const l = new BatchLoader(ds, { batchSize: 8, seed, prefetch: false });
    const r = [epochIndices(l), epochIndices(l)];
    l.close();
    return r;
  };
  const [a, b, c] = [run(5), run(5), run(6)];
  assert.equal(a, b, 'same seed, same order');
  assert.not.equal(a[0], c[0], 'another seed, another order');
  assert.not.equal(a[0], a[1], 'each epoch reshuffles');
  assert.not.equal(
    a[0].flat(),
    Array.from({ length: 40 }, (_, i) => i),
    'actually shuffled',
  );
  const plain = new BatchLoader(ds, { batchSize: 8, shuffle: false });
  assert.equal(
    epochIndices(plain).flat(),
    Array.from({ length: 40 }, (_, i) => i),
  );
  plain.close();
});

test('uploaded pixels are the chosen images in [0, 1]; labels follow them', async () => {
  const ds = tinyDataset(12, 3, 3, 5);
  const size = imageSize(ds);
  const loader = new BatchLoader(ds, { batchSize: 5, dropLast: false, labels: true, seed: 9 });
  for (const batch of loader.epoch()) {
    assert.equal([...batch.images.shape], [batch.indices.length, 3, 3, 5]);
    const got = await batch.images.toArray();
    batch.indices.forEach((src, k) => {
      for (let i = 0; i < size; i++) {
        const want = ds.images[src * size + i] / 255;
        if (Math.abs(got[k * size + i] - want) > 1e-7) assert.unreachable(`batch ${batch.index} image ${k} (dataset ${src}) value ${i}`);
      }
    });
    assert.equal(
      Array.from(batch.labels!),
      Array.from(batch.indices, (i) => ds.labels[i]),
    );
    assert.equal(Array.from(await batch.labelTensor!.toArray()), Array.from(batch.labels!));
    assert.equal(batch.views, [], 'no views without augment');
  }
  loader.close();
});

test('augmented views: repeatable per seed, identical with and without prefetch, two distinct views', async () => {
  const ds = tinyDataset(24, 3, 8, 6);
  const views = async (seed: number, prefetch: boolean) => {
    const l = new BatchLoader(ds, { batchSize: 8, seed, prefetch, augment: { size: [7, 7] } });
    const out: number[][] = [];
    for (const b of l.epoch()) {
      assert.is(b.views.length, 2);
      assert.equal([...b.views[0].shape], [8, 3, 7, 7]);
      out.push(Array.from(await b.views[0].toArray()), Array.from(await b.views[1].toArray()));
      await yieldToEventLoop(); // let the prefetch run, as a training step's await would
    }
    l.close();
    return out;
  };
  const a = await views(3, true);
  const b = await views(3, false);
  const c = await views(4, true);
  assert.equal(a, b, 'prefetching does not change the result');
  assert.not.equal(a[0], c[0], 'another seed, other views');
  assert.not.equal(a[0], a[1], 'query and key views differ');
  // The identity config passes images straight through; views: 1 gives one view.
  const l = new BatchLoader(ds, { batchSize: 8, seed: 1, augment: IDENTITY_AUGMENT, views: 1 });
  const batch = l.next();
  assert.is(batch.views.length, 1);
  assert.equal(Array.from(await batch.views[0].toArray()), Array.from(await batch.images.toArray()));
  l.close();
});

test('prefetch: the next batch is uploaded and augmented while the caller awaits', async () => {
  const ds = tinyDataset(32, 1, 6, 6);
  const loader = new BatchLoader(ds, { batchSize: 8, seed: 1, augment: {} });
  loader.next();
  const before = stats();
  await yieldToEventLoop(); // a training step's `await loss.item()` yields like this
  const during = stats();
  assert.ok(during.uploads > before.uploads, 'images and parameters uploaded in the background');
  assert.ok(during.dispatches >= before.dispatches + 2, 'augmentation recorded in the background');
  assert.ok(during.submits > before.submits, 'and submitted, so the GPU can start on it');
  const second = loader.next();
  const after = stats();
  assert.is(after.uploads, during.uploads, 'next() hands out the prepared batch without new uploads');
  assert.is(second.index, 1);
  loader.close();
});

test('epochs continue across next(); seek resumes at any batch exactly', async () => {
  const ds = tinyDataset(20, 1, 4, 4);
  const opts = { batchSize: 4, seed: 11, augment: {} };
  const a = new BatchLoader(ds, opts);
  const seen: Batch[] = [];
  for (let i = 0; i < 8; i++) seen.push(a.next());
  assert.equal(
    seen.map((b) => [b.epoch, b.index]),
    [
      [0, 0],
      [0, 1],
      [0, 2],
      [0, 3],
      [0, 4],
      [1, 0],
      [1, 1],
      [1, 2],
    ],
  );
  const last = seen[7];
  const want = Array.from(await last.views[1].toArray());
  const b = new BatchLoader(ds, opts);
  b.seek(1, 2);
  const again = b.next();
  assert.equal(Array.from(again.indices), Array.from(last.indices));
  assert.equal(Array.from(await again.views[1].toArray()), want);
  assert.equal(b.position, { epoch: 1, index: 3 });
  a.close();
  b.close();
  throwsWith(() => b.next(), 'after close()');
});

test('ownership: the previous batch is disposed on next() (unless autoDispose is off); close() frees the prefetched one', async () => {
  const ds = tinyDataset(16, 1, 4, 4);
  const l = new BatchLoader(ds, { batchSize: 4, augment: {}, labels: true });
  const first = l.next();
  await yieldToEventLoop();
  l.next();
  assert.ok(first.images.isDisposed && first.views.every((v) => v.isDisposed) && first.labelTensor!.isDisposed);
  const live = stats().bytesLive;
  l.close();
  assert.ok(stats().bytesLive < live, 'close() released the current and the prefetched batch');
  const keep = new BatchLoader(ds, { batchSize: 4, autoDispose: false });
  const k1 = keep.next();
  keep.next();
  assert.not.ok(k1.images.isDisposed);
  k1.dispose();
  assert.ok(k1.images.isDisposed);
  keep.close();
});

test('a config that does not fit the data fails at construction', () => {
  const ds = tinyDataset(8, 2, 4, 4);
  throwsWith(() => new BatchLoader(ds, { batchSize: 4, augment: {} }), '1 or 3 channels');
  throwsWith(() => new BatchLoader(tinyDataset(8, 1, 4, 4), { batchSize: 0 }), 'batchSize must be a positive integer');
});

test.run();
