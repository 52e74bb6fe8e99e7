// Runs `wgrad-moco train` in a child process (node --import tsx src/cli/main.ts, the same as
// `npx tsx src/cli/main.ts` without npx's extra process, so a signal reaches the trainer itself).

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TRAIN_OPTIONS } from '../../src/cli/train.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The smallest run that still has several steps per epoch and a queue that wraps around. */
export function tinyTrainArgs(out: string, epochs = 2): string[] {
  const args = [
    'train',
    '--train-size',
    '128',
    '--test-size',
    '50',
    '--epochs',
    String(epochs),
    '--batch',
    '32',
    '--K',
    '64',
    '--width',
    '4',
    '--dim',
    '16',
    '--no-baselines',
    '--out',
    out,
  ];
  if ('probeEpochs' in TRAIN_OPTIONS) args.push('--probe-epochs', '0');
  if ('finalEval' in TRAIN_OPTIONS) args.push('--no-final-eval'); // the full sets are 70,000 images
  return args;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
