// One writer per run directory. `wgrad-moco train` holds `<out>/wgrad-moco.lock` (created
// exclusively, holding its pid) from before it reads anything until it exits; a second run on the
// same directory stops naming the holder. A lock whose process is gone (killed, crashed) is
// stale: it is taken over, and the run says so. Temp files of the atomic checkpoint write
// (`checkpoint.safetensors.tmp-<pid>-<hex>`) are removed only when the process that wrote them is
// gone, never while another process may still be writing one.

import * as fs from 'node:fs';
import * as path from 'node:path';

export const LOCK_NAME = 'wgrad-moco.lock';

interface LockInfo {
  pid: number;
  started: string;
  command: string;
}

/** Whether a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(file: string): LockInfo | null {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8'));
    return v !== null && typeof v === 'object' && Number.isInteger(v.pid) ? (v as LockInfo) : null;
  } catch {
    return null; // unreadable or half-written: treated as stale below only if it stays so
  }
}

export interface RunLock {
  file: string;
  /** Removes the lock if this process still holds it. */
  release(): void;
}

/**
 * Takes the run directory's lock (the directory must exist). Throws naming the holder if a live
 * process holds it; takes over a stale lock and reports it through `say`.
 */
export function acquireRunLock(dir: string, command: string, say: (line: string) => void = console.log): RunLock {
  const file = path.join(dir, LOCK_NAME);
  const mine: LockInfo = { pid: process.pid, started: new Date().toISOString(), command };
  const tmp = `${file}.new-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(mine) + '\n');
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        fs.linkSync(tmp, file); // atomic: fails if any lock exists
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw e;
      }
      const holder = readLock(file);
      if (holder && processAlive(holder.pid) && holder.pid !== process.pid) {
        throw new Error(
          `${dir} is in use by another run: process ${holder.pid} (${holder.command}, started ${holder.started}) holds ${file}. Wait for it to finish, or use another --out.`,
        );
      }
      // Stale: move it aside under a name only this process uses, then check that what was moved
      // is still the stale lock (another process may have taken over in between).
      const aside = `${file}.stale-${process.pid}`;
      try {
        fs.renameSync(file, aside);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // someone else moved it
        throw e;
      }
      const moved = readLock(aside);
      if (moved && processAlive(moved.pid) && moved.pid !== process.pid) {
        try {
          fs.linkSync(aside, file);
        } catch {
          /* another lock is in place: it wins */
        }
        fs.rmSync(aside, { force: true });
        continue;
      }
      fs.rmSync(aside, { force: true });
      say(
        `took over ${file}: ${holder ? `process ${holder.pid} (started ${holder.started}) that held it is no longer running` : 'it was unreadable'}`,
      );
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.removeListener('exit', release);
    if (readLock(file)?.pid === process.pid) fs.rmSync(file, { force: true });
  };
  process.on('exit', release);
  return { file, release };
}

/** Removes temp files of `target`'s atomic writes whose writer process is gone. */
export function removeStaleTempFiles(target: string): void {
  const prefix = `${path.basename(target)}.tmp-`;
  const dir = path.dirname(target);
  for (const f of fs.readdirSync(dir)) {
    if (!f.startsWith(prefix)) continue;
    const pid = Number(f.slice(prefix.length).split('-')[0]);
    if (pid === process.pid || processAlive(pid)) continue; // ours is renamed already; a live writer's is in flight
    fs.rmSync(path.join(dir, f), { force: true });
  }
}

/**
 * Refuses, before any work, an output path that cannot be used: `--out` naming a file (or inside
 * one), `--json` naming a directory or a folder that does not exist, `--data-dir` that is not a
 * directory. Creates `--out` (as the run would) and returns nothing.
 */
export function checkRunPaths(command: string, p: { out: string; json?: string; dataDir?: string }): void {
  const kind = (f: string) => {
    try {
      return fs.statSync(f).isDirectory() ? 'dir' : 'file';
    } catch {
      return 'none';
    }
  };
  if (kind(p.out) === 'file')
    throw new Error(`${command}: --out ${p.out} is a file; it must name a directory (the run's log, checkpoint and plot go there)`);
  try {
    fs.mkdirSync(p.out, { recursive: true });
  } catch (e) {
    throw new Error(
      `${command}: --out ${p.out} cannot be created (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); part of the path may be a file`,
    );
  }
  if (p.json) {
    if (kind(p.json) === 'dir') throw new Error(`${command}: --json ${p.json} is a directory; it must name a file`);
    if (kind(path.dirname(path.resolve(p.json))) !== 'dir')
      throw new Error(`${command}: --json ${p.json}: the folder ${path.dirname(path.resolve(p.json))} does not exist`);
  }
  if (p.dataDir && kind(p.dataDir) !== 'dir') throw new Error(`${command}: --data-dir ${p.dataDir} is not a directory`);
}
