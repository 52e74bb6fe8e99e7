// Kernel sources (src/device/kernel-sources.ts): `//! include <piece>` lines are replaced by the
// piece's text, nested includes resolve, a piece is pasted once per kernel, a re-registered piece
// takes effect, and a missing or malformed include throws naming the kernel and the piece.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setup } from '../helpers.ts';
import { fillTemplate, kernelSource, registerKernelSource } from '../../src/device/kernel-sources.ts';

test('includes resolve, nested, each piece once, templates filled afterwards', () => {
  registerKernelSource('test_inc_leaf', 'const LEAF: u32 = {{N}}u;\n');
  registerKernelSource('test_inc_mid', '// mid\n//! include test_inc_leaf\nfn mid() -> u32 { return LEAF; }\n');
  registerKernelSource('test_inc_kernel', 'a\n//! include test_inc_mid\n  //! include test_inc_leaf  \nb\n');
  // The leaf comes in through the middle piece; its second include is dropped.
  assert.is(kernelSource('test_inc_kernel'), 'a\n// mid\nconst LEAF: u32 = {{N}}u;\nfn mid() -> u32 { return LEAF; }\n\nb\n');
  assert.is(fillTemplate('test_inc_kernel', { N: 7 }), 'a\n// mid\nconst LEAF: u32 = 7u;\nfn mid() -> u32 { return LEAF; }\n\nb\n');
  // An include that loops back is dropped too, instead of recursing.
  registerKernelSource('test_inc_loop', 'x\n//! include test_inc_loop_b\n');
  registerKernelSource('test_inc_loop_b', 'y\n//! include test_inc_loop\n');
  assert.is(kernelSource('test_inc_loop'), 'x\ny\n\n');
});

test('registering a piece again changes the kernels that include it', () => {
  registerKernelSource('test_inc_piece2', 'one');
  registerKernelSource('test_inc_user2', '//! include test_inc_piece2\n');
  assert.is(kernelSource('test_inc_user2'), 'one\n');
  registerKernelSource('test_inc_piece2', 'two');
  assert.is(kernelSource('test_inc_user2'), 'two\n');
});

test('a missing piece throws naming the kernel and the piece; so does a malformed include', async () => {
  registerKernelSource('test_inc_missing', 'fn f() {}\n//! include test_inc_none\n');
  const missing = /kernel 'test_inc_missing' includes the piece 'test_inc_none' \(kernels\/test_inc_none\.wgsl\), which cannot be loaded/;
  assert.throws(() => kernelSource('test_inc_missing'), missing);
  // Nested: the kernel that was asked for is named, with the piece that is missing.
  registerKernelSource('test_inc_outer', '//! include test_inc_missing_mid\n');
  registerKernelSource('test_inc_missing_mid', '//! include test_inc_none\n');
  assert.throws(() => kernelSource('test_inc_outer'), /kernel 'test_inc_outer' includes the piece 'test_inc_none'/);
  registerKernelSource('test_inc_bad', '//! include matmul_params.wgsl\n');
  assert.throws(() => kernelSource('test_inc_bad'), /kernel 'test_inc_bad': '\/\/! include matmul_params\.wgsl' should name one piece/);
  // With the Node loader (after init), a missing piece is a missing file.
  await setup();
  assert.throws(() => kernelSource('test_inc_missing'), /includes the piece 'test_inc_none' .*kernels\/test_inc_none\.wgsl not fo/);
  // The library's own pieces load from kernels/ like kernels.
  assert.match(kernelSource('matmul'), /struct Params \{/);
  assert.not.match(kernelSource('matmul'), /^\s*\/\/! include/m);
});

test.run();
