// test/skip.ts: a skip is recorded and summarised in one line when the run ends, and under
// WGRAD_REQUIRE_ALL=1 it is a failure. Run in a child process, so these skips stay out of the
// summary of the real run.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const skipModule = fileURLToPath(new URL('./skip.ts', import.meta.url));
const program = `
import { skip } from ${JSON.stringify(skipModule)};
for (const _ of [1, 2]) skip('no widget');
try { skip('no gadget'); } catch (e) { console.log('threw: ' + e.message); }
`;
const run = (env: Record<string, string>) =>
  spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', program], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });

test('skips are counted and named in one summary line at exit', () => {
  const r = run({ WGRAD_REQUIRE_ALL: '' });
  assert.is(r.status, 0, r.stderr);
  const line = r.stdout.split('\n').find((l) => l.includes('Skipped by the tests themselves'));
  assert.ok(line, r.stdout);
  assert.match(line!, /3 skipped/);
  assert.match(line!, /2 × .*\(no widget\)/);
  assert.match(line!, /\(no gadget\)/);
  assert.not.match(r.stdout, /threw/);
});

test('WGRAD_REQUIRE_ALL=1 turns every skip into a failure that names the reason', () => {
  const r = run({ WGRAD_REQUIRE_ALL: '1' });
  assert.is.not(r.status, 0, 'the first skip throws uncaught');
  assert.match(r.stderr, /skipped under WGRAD_REQUIRE_ALL=1, which makes every skip a failure: no widget/);
});

test.run();
