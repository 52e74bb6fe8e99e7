// Visible skips. uvu decides skips when a test is declared, but what a test needs (PyTorch,
// Chromium, the dataset, an adapter feature) is known only when it runs. A test that cannot run
// calls `skip(reason)` and returns: the skip is recorded, and when the run ends one summary line
// names every skipped test and why. With WGRAD_REQUIRE_ALL=1 (CI: .ci/run sets it) a skip is a
// failure instead, so a green CI run has run everything.
//
//   if (!python) return skip('no python3 with torch (bash scripts/setup.sh --with-python)');
//
// uvu's own "Skipped:" count is for test.skip(); its "Passed:" count includes these skips.

const skipped: { where: string; reason: string }[] = [];

export const requireAll = (): boolean => /^(1|true|yes)$/i.test(process.env.WGRAD_REQUIRE_ALL ?? '');

/** The test file and line that called skip(), from the stack (uvu does not tell a test its name). */
function caller(): string {
  const frames = (new Error().stack ?? '').split('\n').slice(1);
  const frame = frames.find((l) => /\/test\//.test(l) && !/\/test\/skip\.ts/.test(l)) ?? '';
  const m = /(test\/[^\s():]+):(\d+)/.exec(frame);
  return m ? `${m[1]}:${m[2]}` : 'a test';
}

/** Records that the running test is skipped, or throws under WGRAD_REQUIRE_ALL=1. */
export function skip(reason: string): void {
  if (requireAll()) throw new Error(`skipped under WGRAD_REQUIRE_ALL=1, which makes every skip a failure: ${reason}`);
  skipped.push({ where: caller(), reason });
  console.log(`  skipped: ${reason}`);
}

/** The skips recorded so far. */
export const skips = (): readonly { where: string; reason: string }[] => skipped;

/** One line: `N skipped (…): file:line (why); …`, repeated places and reasons counted once with ×n. */
export function summary(): string {
  if (skipped.length === 0) return '0 skipped';
  const groups = new Map<string, number>();
  for (const s of skipped) groups.set(`${s.where} (${s.reason})`, (groups.get(`${s.where} (${s.reason})`) ?? 0) + 1);
  const list = [...groups].map(([k, n]) => (n > 1 ? `${n} × ${k}` : k)).join('; ');
  return `${skipped.length} skipped (set WGRAD_REQUIRE_ALL=1 to make a skip fail): ${list}`;
}

process.on('exit', () => console.log(`\n  Skipped by the tests themselves: ${summary()}`));
