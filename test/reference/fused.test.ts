// The float64 interpreter of fuse()'s recorded programs (src/reference/fused.ts).
import { test } from 'uvu';
import * as R from '../../src/reference/index.ts';
import { referenceOps } from '../../src/reference/index.ts';
import { close, t, throwsWith } from './helpers.ts';

test('replays a program with broadcasting, scalar ops and a repeated value', () => {
  const x = t([1, -2, 3], [3]);
  const y = t([2, 0.5], [2, 1]);
  // sqrt(relu(x * y + 1)) * x
  const steps = [
    { op: 'mul', args: [0, 1] },
    { op: 'addScalar', args: [2], value: 1 },
    { op: 'relu', args: [3] },
    { op: 'sqrt', args: [4] },
    { op: 'mul', args: [5, 0] },
  ];
  close(R.fused([x, y], { steps }), [Math.sqrt(3), 0, Math.sqrt(7) * 3, Math.sqrt(1.5), 0, Math.sqrt(2.5) * 3], [2, 3]);
  close(referenceOps.fused([x, y], { steps }), R.fused([x, y], { steps }).data, [2, 3]);
  // x^3 - 1 and (1 - x) via rsubScalar
  close(
    R.fused([x], {
      steps: [
        { op: 'powScalar', args: [0], exponent: 3 },
        { op: 'rsubScalar', args: [1], value: 1 },
      ],
    }),
    [0, 9, -26],
    [3],
  );
});

test('rejects malformed programs, naming the step', () => {
  const x = t([1, 2], [2]);
  throwsWith(() => R.fused([x], { steps: [] }), 'fused', 'non-empty');
  throwsWith(() => R.fused([x], { steps: [{ op: 'sum', args: [0] }] }), "unknown op 'sum'");
  throwsWith(() => R.fused([x], { steps: [{ op: 'neg', args: [1] }] }), "step 0 ('neg') reads value 1");
  throwsWith(() => R.fused([x], { steps: [{ op: 'add', args: [0] }] }), 'takes 2 arguments');
  throwsWith(() => R.fused([x], { steps: [{ op: 'addScalar', args: [0] }] }), "attribute 'value'");
});

test.run();
