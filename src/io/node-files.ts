/**
 * Node-only file helpers for checkpoints: crash-safe writes and
 * safetensors load/save. Browsers use `safetensors.ts` directly.
 *
 * `writeFileAtomic` never leaves a half-written target: the bytes go to a
 * temp file in the same directory (same filesystem, so rename is atomic),
 * which is fsynced, renamed over the target, and then the directory is
 * fsynced so the rename itself survives a power cut. Readers see either the
 * old file or the new one, never a mix.
 */

import { open, readFile, rename, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { decodeSafetensors, encodeSafetensors } from './safetensors.ts';
import type { DecodedSafetensors, TensorData } from './safetensors.ts';

export interface WriteFileAtomicOptions {
  /**
   * Test seam: awaited after the temp file is fully written and fsynced,
   * just before the rename. If it throws, the write is abandoned, the temp
   * file removed and the error rethrown; the target is untouched.
   */
  beforeRename?: (tmpPath: string) => void | Promise<void>;
}

/** Replace `path` with `bytes` atomically (temp file + fsync + rename + directory fsync). */
export async function writeFileAtomic(path: string, bytes: Uint8Array, options: WriteFileAtomicOptions = {}): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  let handle: FileHandle | undefined;
  try {
    handle = await open(tmp, 'wx'); // 'x': never clobber someone else's temp file
    await handle.writeFile(bytes);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await options.beforeRename?.(tmp);
    await rename(tmp, path);
  } catch (err) {
    await handle?.close().catch(() => {});
    await unlink(tmp).catch(() => {}); // may not exist if open() failed
    throw err;
  }
  await syncDirectory(dirname(path));
}

/** fsync a directory so a rename inside it is durable. Best effort: some platforms (Windows) refuse. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF') throw err;
  } finally {
    await handle?.close().catch(() => {});
  }
}

/** Encode float32 tensors (+ optional string metadata) and write them atomically to `path`. */
export async function saveSafetensorsFile(
  path: string,
  tensors: Record<string, TensorData>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/** Read and decode a safetensors file; errors name the path. */
export async function loadSafetensorsFile(path: string): Promise<DecodedSafetensors> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
    throw new Error(`loadSafetensorsFile: cannot read "${path}": ${why}`, { cause: err });
  }
  try {
    return decodeSafetensors(bytes);
  } catch (err) {
    throw new Error(`${(err as Error).message} (in "${path}")`, { cause: err });
  }
}
