// Formatting helpers of the training CLI's progress output.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fmtTime } from '../src/cli/progress.ts';

test('fmtTime: seconds below a minute, whole m/ss above, rounding carried into the minutes', () => {
  assert.is(fmtTime(0), '0.0s');
  assert.is(fmtTime(13.25), '13.3s');
  assert.is(fmtTime(60), '1m00s');
  assert.is(fmtTime(1319.689), '22m00s'); // printed as 21m60s before rounding moved first
  assert.is(fmtTime(1548.176), '25m48s');
  assert.is(fmtTime(6119.3), '101m59s');
});

test.run();
