/**
 * Test helper: find a Python with numpy for cross-checks against the
 * reference ecosystem. `/usr/bin/python3` first (system numpy/torch), then
 * whatever `python3` is on PATH (may be a pyenv without numpy).
 */
import { spawnSync } from 'node:child_process';

let cached: string | null | undefined;

/** The first interpreter whose `import numpy` works, or null. */
export function findPythonWithNumpy(): string | null {
  if (cached !== undefined) return cached;
  cached = null;
  for (const candidate of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(candidate, ['-c', 'import numpy'], { stdio: 'ignore', timeout: 60_000 });
    if (r.status === 0) {
      cached = candidate;
      break;
    }
  }
  return cached;
}

/** Run `script` (fed on stdin) with `args`; return stdout, or throw with stderr. */
export function runPython(python: string, script: string, args: string[] = []): string {
  const r = spawnSync(python, ['-', ...args], { input: script, encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${python} exited with ${r.status}:\n${r.stderr}`);
  return r.stdout;
}

let torchCached: string | null | undefined;

/** The Python found by findPythonWithNumpy if it can also `import torch`, or null. */
export function findPythonWithTorch(): string | null {
  if (torchCached !== undefined) return torchCached;
  const python = findPythonWithNumpy();
  torchCached =
    python !== null && spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore', timeout: 120_000 }).status === 0 ? python : null;
  return torchCached;
}
