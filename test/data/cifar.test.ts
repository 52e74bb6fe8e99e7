import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CIFAR10_CLASSES, parseCifar10Batch } from '../../src/data/cifar.ts';
import { cifarBatch, pixel, throwsWith } from './helpers.ts';

test('records come out as CHW images and labels', () => {
  const { images, labels } = parseCifar10Batch(cifarBatch([3, 9, 0, 1, 7]));
  assert.equal(Array.from(labels), [3, 9, 0, 1, 7]);
  assert.is(images.length, 5 * 3 * 32 * 32);
  for (const [r, c, y, x] of [
    [0, 0, 0, 0],
    [1, 1, 5, 17],
    [4, 2, 31, 31],
    [2, 2, 0, 1],
    [3, 1, 31, 0],
  ]) {
    assert.is(images[((r * 3 + c) * 32 + y) * 32 + x], pixel(r, c, y, x), `record ${r} c${c} y${y} x${x}`);
  }
});

test('empty batch is fine', () => {
  assert.is(parseCifar10Batch(new Uint8Array(0)).labels.length, 0);
});

test('length not a multiple of 3073', () => {
  const cut = cifarBatch([1, 2]).subarray(0, 2 * 3073 - 5);
  throwsWith(() => parseCifar10Batch(cut, 'b.bin'), 'b.bin', `${cut.length} bytes`, '3073', '1 whole records + 3068 bytes');
});

test('label > 9', () => {
  throwsWith(() => parseCifar10Batch(cifarBatch([1, 10, 2]), 'b.bin'), 'b.bin', 'record 1', 'label 10', '0..9');
});

test('class names', () => {
  assert.is(CIFAR10_CLASSES.length, 10);
  assert.is(CIFAR10_CLASSES[0], 'airplane');
  assert.is(CIFAR10_CLASSES[9], 'truck');
});

test.run();
