// Inspection: Tensor.format()/print() against torch's own repr of the same float32 values (integer,
// fixed and scientific modes, widths, negative numbers, NaN/Inf, ties, wrapping at 80 columns,
// summarised tensors above 1,000 elements, empty and rank-0 tensors, requires_grad), tolist(),
// and what console.log / util.inspect / String() show without reading values.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { inspect } from 'node:util';
import { tensor, randn, arange, Generator, zeros, type Tensor } from '../src/index.ts';
import { formatTensor } from '../src/format.ts';
import { setup } from './helpers.ts';
import { skip } from './skip.ts';
import { findPythonWithTorch, runPython } from './io/python.ts';

test.before(setup);

const g = new Generator(11);
const gauss = (n: number, scale = 1) => Array.from({ length: n }, () => scale * g.normal());

/** Cases: [name, values, shape, requiresGrad]. */
const CASES: [string, number[], number[], boolean][] = [
  ['integers 2×2', [1, 2, 3, 4], [2, 2], false],
  ['integers with negatives', [-10, 2, 300, 0], [4], false],
  ['fixed point', [1.5, -2.25, 0.125, 3], [2, 2], false],
  ['tie at the 4th decimal rounds to even', [0.03125, 0.09375, 1.5], [3], false],
  ['scientific: tiny values', [1e-5, 2.5, -3], [3], false],
  ['scientific: wide ratio', [1, 2000.5], [2], false],
  ['integers, scientific', [1, 1e9], [2], false],
  ['all zeros', [0, 0, 0, 0, 0, 0], [2, 3], false],
  ['NaN and Inf', [NaN, Infinity, -Infinity, 1.5, 0], [5], false],
  ['integers with NaN', [NaN, 1, 2], [3], false],
  ['rank 0', [3], [], false],
  ['rank 0 fraction', [-0.5], [], false],
  ['rank 3', gauss(24), [2, 3, 4], false],
  ['rank 4', gauss(16), [2, 2, 2, 2], false],
  ['long row wraps at 80 columns', gauss(40), [40], false],
  ['long rows in a matrix', gauss(60), [2, 30], false],
  ['summarised vector', gauss(2000), [2000], false],
  ['summarised matrix', gauss(1200, 100), [40, 30], false],
  ['summarised rank 3', gauss(1100), [11, 10, 10], false],
  ['empty vector', [], [0], false],
  ['empty matrix', [], [0, 3], false],
  ['requires grad', [1, 2], [2], true],
];

/** What torch prints for each case (same float32 values). */
function torchReprs(): string[] | null {
  const python = findPythonWithTorch();
  if (!python) return null;
  const payload = JSON.stringify(CASES.map(([, v, s, r]) => [v.map((x) => (Number.isFinite(x) ? Math.fround(x) : String(x))), s, r]));
  const script = `
import json, torch
cases = json.loads(${JSON.stringify(payload)})
out = []
for values, shape, grad in cases:
    t = torch.tensor([float(v) for v in values], dtype=torch.float32).reshape(shape)
    out.append(repr(t.requires_grad_() if grad else t))
print(json.dumps(out))
`;
  return JSON.parse(runPython(python, script)) as string[];
}

test('format() prints what torch prints for the same float32 values', async () => {
  const ref = torchReprs();
  if (!ref) {
    return skip('no python3 with torch (bash scripts/setup.sh --with-python installs python3-torch)');
  }
  for (let i = 0; i < CASES.length; i++) {
    const [name, values, shape, requiresGrad] = CASES[i];
    const t = tensor(new Float32Array(values), shape, { requiresGrad });
    assert.fixture(await t.format(), ref[i], name);
  }
});

test('format() without torch: a small tensor, fixed widths, the summary marks', async () => {
  assert.is(
    await tensor([
      [1, 2],
      [3, 4],
    ]).format(),
    'tensor([[1., 2.],\n        [3., 4.]])',
  );
  assert.is(await tensor([1.5, -2]).format(), 'tensor([ 1.5000, -2.0000])');
  assert.is(await arange(500, 2000).float().format(), 'tensor([ 500.,  501.,  502.,  ..., 1997., 1998., 1999.])');
  assert.is(await arange(500, 2000).format(), 'tensor([ 500,  501,  502,  ..., 1997, 1998, 1999], dtype=torch.int32)'); // int32 (PyTorch: int64, printed without a dtype)
  assert.is(formatTensor([NaN, 1e-7], [2]), 'tensor([       nan, 1.0000e-07])');
});

test('results of ops print grad_fn=<op>; print() writes format() to the console', async () => {
  const x = tensor([1, 2], undefined, { requiresGrad: true });
  assert.is(await x.mul(x).format(), 'tensor([1., 4.], grad_fn=<mul>)');
  const lines: string[] = [];
  const log = console.log;
  console.log = (m: string) => lines.push(m);
  try {
    await tensor([0.5]).print();
  } finally {
    console.log = log;
  }
  assert.equal(lines, ['tensor([0.5000])']);
});

test('tolist() gives nested arrays (a number for rank 0)', async () => {
  assert.equal(
    await tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]).tolist(),
    [
      [1, 2, 3],
      [4, 5, 6],
    ],
  );
  assert.equal(
    await tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]).T.tolist(),
    [
      [1, 4],
      [2, 5],
      [3, 6],
    ],
  );
  assert.equal(await zeros(2, 1, 2).tolist(), [[[0, 0]], [[0, 0]]]);
  assert.is(await tensor(2.5).tolist(), 2.5);
  assert.equal(await zeros(0, 2).tolist(), []);
});

test('console.log / util.inspect / String() show shape, dtype and device, not the device object', () => {
  const t: Tensor = randn(2, 3, { requiresGrad: true });
  const shown = inspect(t);
  assert.is(shown, "Tensor(shape=[2, 3], dtype=float32, device='webgpu', requiresGrad=true)");
  assert.is(String(t.mul(t)), "Tensor(shape=[2, 3], dtype=float32, device='webgpu', op=mul)");
  assert.ok(inspect({ weights: t }).includes('Tensor(shape=[2, 3]'), 'nested in an object too');
  t.dispose();
  assert.ok(inspect(t).endsWith(', disposed)'));
});

test.run();
