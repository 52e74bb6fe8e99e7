import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkCounts, checkDataset, imageSize, subset, toFloat } from '../../src/data/dataset.ts';
import { throwsWith, tinyDataset } from './helpers.ts';

const ds = tinyDataset(20);
const size = imageSize(ds);
const imageOf = (d: typeof ds, i: number) => Array.from(d.images.subarray(i * size, (i + 1) * size));

test('imageSize and checkDataset on a good dataset', () => {
  assert.is(size, 24);
  assert.is(checkDataset(ds), ds);
});

test('checkDataset catches wrong lengths and labels', () => {
  throwsWith(() => checkDataset({ ...ds, count: 21 }), 'tiny', '21×2×3×4 needs 504');
  throwsWith(() => checkDataset({ ...ds, labels: ds.labels.subarray(1) }), '19 labels for 20 images');
  throwsWith(() => checkDataset({ ...ds, classes: ['a', 'b'] }), 'label 2 at index 2', '0..1');
});

test('checkCounts names both counts and both files', () => {
  checkCounts(5, 5, 'a', 'b');
  throwsWith(() => checkCounts(60000, 10000, 'imgs.gz', 'lbls.gz'), 'image count 60000 (imgs.gz)', 'label count 10000 (lbls.gz)');
});

test('subset without seed takes the first n', () => {
  const s = subset(ds, 5);
  assert.is(s.count, 5);
  assert.equal(Array.from(s.labels), [0, 1, 2, 3, 4]);
  assert.equal(Array.from(s.images), Array.from(ds.images.subarray(0, 5 * size)));
  assert.ok(s.images.buffer !== ds.images.buffer, 'subset copies');
  checkDataset(s);
});

test('seeded subset: deterministic, distinct, images follow their labels', () => {
  const a = subset(ds, 8, 42);
  const b = subset(ds, 8, 42);
  const c = subset(ds, 8, 7);
  assert.equal(Array.from(a.images), Array.from(b.images));
  assert.not.equal(Array.from(a.images), Array.from(c.images));
  // Every picked image is one of the originals (pixels encode position, so each is unique).
  const originals = Array.from({ length: ds.count }, (_, i) => imageOf(ds, i).join());
  const picked = Array.from({ length: a.count }, (_, k) => originals.indexOf(imageOf(a, k).join()));
  assert.ok(picked.every((i) => i >= 0));
  assert.is(new Set(picked).size, 8, 'no image twice');
  assert.equal(
    picked,
    [...picked].sort((x, y) => x - y),
    'original order kept',
  );
  picked.forEach((i, k) => assert.is(a.labels[k], ds.labels[i]));
  assert.is(subset(ds, 20, 1).count, 20);
});

test('subset rejects n outside 0..count', () => {
  throwsWith(() => subset(ds, 21), 'subset(tiny, 21)', '0..20');
  throwsWith(() => subset(ds, 1.5), '0..20');
});

test('toFloat: [0,1] NCHW, all or chosen indices in order', () => {
  const all = toFloat(ds);
  assert.is(all.length, ds.images.length);
  assert.ok(Math.abs(all[1] - ds.images[1] / 255) < 1e-7);
  const some = toFloat(ds, [3, 0]);
  assert.is(some.length, 2 * size);
  assert.equal(Array.from(some.subarray(0, size)), Array.from(all.subarray(3 * size, 4 * size)));
  assert.equal(Array.from(some.subarray(size)), Array.from(all.subarray(0, size)));
  const full = toFloat({ ...ds, images: ds.images.map((_, i) => (i % 2 ? 255 : 0)) });
  assert.is(Math.min(...full), 0);
  assert.is(Math.max(...full), 1);
});

test('toFloat rejects bad indices', () => {
  throwsWith(() => toFloat(ds, [0, 20]), 'index 20 at position 1', '0..19');
  throwsWith(() => toFloat(ds, [-1]), 'index -1');
});

test.run();
