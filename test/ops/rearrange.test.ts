// flip, repeat, split, chunk, pad (constant, reflect), cumsum, eye, linspace: values against
// closed forms and PyTorch, forward vs the float64 replay and gradients vs finite differences on
// odd shapes, rank 0 and non-contiguous views.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tensor, tensor, flip, repeat, split, chunk, pad, cumsum, eye, linspace } from '../../src/index.ts';
import { setup, checkForward, checkGrad, assertClose, throwsWith } from '../helpers.ts';
import { make } from './values.ts';
import { findPythonWithTorch, runPython } from '../io/python.ts';

test.before(setup);

const values = async (t: Tensor) => Array.from(await t.toArray());

test('closed forms of small cases', async () => {
  assert.equal(
    await values(
      flip(
        tensor([
          [1, 2, 3],
          [4, 5, 6],
        ]),
        [0, 1],
      ),
    ),
    [6, 5, 4, 3, 2, 1],
  );
  assert.equal(await values(repeat(tensor([1, 2]), [2, 2])), [1, 2, 1, 2, 1, 2, 1, 2]);
  assert.equal(repeat(tensor([[1, 2]]), [3, 1, 2]).shape, [3, 1, 4]);
  assert.equal(
    split(tensor([0, 1, 2, 3, 4]), 2).map((t) => t.shape[0]),
    [2, 2, 1],
  );
  assert.equal(await values(split(tensor([0, 1, 2, 3, 4]), [1, 4])[1]), [1, 2, 3, 4]);
  assert.equal(
    chunk(tensor([0, 1, 2, 3, 4, 5]), 4).map((t) => t.shape[0]),
    [2, 2, 2],
  ); // as torch.chunk: 3 pieces
  assert.equal(await values(pad(tensor([[1, 2, 3]]), [2, 1], 'reflect')), [3, 2, 1, 2, 3, 2]);
  assert.equal(await values(pad(tensor([[1, 2]]), [1, 0, 0, 1], 'constant', 9)), [9, 1, 2, 9, 9, 9]);
  assert.equal(
    await values(
      cumsum(
        tensor([
          [1, 2, 3],
          [4, 5, 6],
        ]),
        1,
      ),
    ),
    [1, 3, 6, 4, 9, 15],
  );
  assert.equal(await values(cumsum(tensor(7), 0)), [7]);
  assert.equal(await values(eye(2, 3)), [1, 0, 0, 0, 1, 0]);
  assert.equal(await values(linspace(-1, 1, 5)), [-1, -0.5, 0, 0.5, 1]);
  assert.equal(await values(linspace(3, 3, 1)), [3]);
  throwsWith(() => pad(tensor([1, 2]), [2, 0], 'reflect'), 'pad', 'smaller than');
  throwsWith(() => split(tensor([1, 2, 3]), [1, 1]), 'split', 'adding up to 3');
  throwsWith(() => repeat(tensor([[1]]), [2]), 'repeat', 'at least 2');
});

test('forward vs the float64 replay and gradients, on strided views and odd shapes', async () => {
  const x = make([3, 5], { seed: 1, layout: 'transposed' });
  const y = make([2, 3, 4], { seed: 2, layout: 'sliced' });
  const fns: [string, (a: Tensor) => Tensor, Tensor][] = [
    ['flip', (a) => flip(a, [0, 1]), x],
    ['flip last', (a) => a.flip(-1), y],
    ['repeat', (a) => repeat(a, [2, 1, 3]), x],
    ['split', (a) => split(a, 2, 1)[2].mul(split(a, [1, 4], 1)[1].sum()), x],
    ['chunk', (a) => chunk(a, 2, 0)[1].mul(2), y],
    ['pad constant', (a) => pad(a, [1, 2, 0, 3], 'constant', 0.5), x],
    ['pad reflect', (a) => pad(a, [2, 3, 1, 1], 'reflect'), y],
    ['cumsum 0', (a) => cumsum(a, 0), x],
    ['cumsum middle', (a) => a.cumsum(1), y],
    ['cumsum rank 1', (a) => cumsum(a, 0), make([6], { seed: 3 })],
  ];
  for (const [name, f, input] of fns) {
    await checkForward(f, [input], 1e-5, name);
    await checkGrad(f, [input], {}, name);
  }
});

test('pad, flip, repeat, cumsum and linspace agree with PyTorch', async () => {
  const py = findPythonWithTorch();
  if (!py) {
    console.log('skipped: no python3 with torch (apt-get install python3-torch)');
    return;
  }
  const x = make([2, 3, 4], { seed: 9 });
  const hx = await values(x);
  const want = JSON.parse(
    runPython(
      py,
      `
import json, torch
import torch.nn.functional as F
x = torch.tensor(${JSON.stringify(hx)}, dtype=torch.float64).reshape(2, 3, 4)
out = [F.pad(x, (1, 2, 2, 1), mode='constant', value=-1), F.pad(x.unsqueeze(0), (3, 2, 2, 1), mode='reflect')[0],
       torch.flip(x, [0, 2]), x.repeat(2, 1, 1, 2), torch.cumsum(x, 1), torch.linspace(-2.5, 7, 11)]
print(json.dumps([t.flatten().tolist() for t in out]))`,
    ),
  ) as number[][];
  const ours = [
    pad(x, [1, 2, 2, 1], 'constant', -1),
    pad(x, [3, 2, 2, 1], 'reflect'),
    flip(x, [0, 2]),
    repeat(x, [2, 1, 1, 2]),
    cumsum(x, 1),
    linspace(-2.5, 7, 11),
  ];
  for (const [i, t] of ours.entries()) assertClose(await t.toArray(), want[i], 1e-5, `case ${i}`);
});

test.run();
