import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSafetensorsFile, saveSafetensorsFile, writeFileAtomic } from '../../src/io/node-files.ts';

async function withTmpDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'wgrad-io-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function rejects(p: Promise<unknown>, pattern: RegExp): Promise<Error> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof Error);
    assert.match((e as Error).message, pattern);
    return e as Error;
  }
  assert.unreachable(`expected a rejection matching ${pattern}`);
  throw new Error('unreachable');
}

test('save then load round-trips, and overwrites leave no temp files', async () => {
  await withTmpDir(async (dir) => {
    const path = join(dir, 'ckpt.safetensors');
    await saveSafetensorsFile(path, { w: { data: new Float32Array([1, 2, 3, 4]), shape: [2, 2] } }, { epoch: '1' });
    await saveSafetensorsFile(path, { w: { data: new Float32Array([5, 6]), shape: [2] } }, { epoch: '2' });
    const { tensors, metadata } = await loadSafetensorsFile(path);
    assert.equal(metadata, { epoch: '2' });
    assert.equal(tensors.w.shape, [2]);
    assert.equal([...tensors.w.data], [5, 6]);
    assert.equal(readdirSync(dir), ['ckpt.safetensors']);
  });
});

test('load of a missing file names the path', async () => {
  await withTmpDir(async (dir) => {
    const path = join(dir, 'nope.safetensors');
    await rejects(loadSafetensorsFile(path), new RegExp(`cannot read "${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}": no such file`));
  });
});

test('load of a corrupt file says so and names the path', async () => {
  await withTmpDir(async (dir) => {
    const path = join(dir, 'bad.safetensors');
    writeFileSync(path, new Uint8Array([1, 2, 3]));
    await rejects(loadSafetensorsFile(path), /truncated or corrupt.*bad\.safetensors/);
  });
});

test('a write that fails before the rename leaves the old file intact and no temp file', async () => {
  await withTmpDir(async (dir) => {
    const path = join(dir, 'ckpt.bin');
    writeFileSync(path, 'old contents');
    let seenTmp = '';
    await rejects(
      writeFileAtomic(path, new TextEncoder().encode('new contents that never land'), {
        beforeRename: (tmp) => {
          seenTmp = tmp;
          // the temp file is complete, in the same directory, named path.tmp-<pid>-<random>
          assert.ok(tmp.startsWith(`${path}.tmp-${process.pid}-`), tmp);
          assert.is(readFileSync(tmp, 'utf8'), 'new contents that never land');
          throw new Error('simulated crash before rename');
        },
      }),
      /simulated crash/,
    );
    assert.is(readFileSync(path, 'utf8'), 'old contents');
    assert.not.ok(existsSync(seenTmp));
    assert.equal(readdirSync(dir), ['ckpt.bin']);
  });
});

test('a failing rename (target is a directory) cleans up its temp file', async () => {
  await withTmpDir(async (dir) => {
    const path = join(dir, 'taken');
    mkdirSync(path);
    writeFileSync(join(path, 'inside'), 'x');
    await rejects(writeFileAtomic(path, new Uint8Array([1, 2, 3])), /EISDIR|ENOTEMPTY|EEXIST|EPERM/);
    assert.equal(readdirSync(dir), ['taken']);
    assert.is(readFileSync(join(path, 'inside'), 'utf8'), 'x');
  });
});

test('writing into a missing directory fails without creating anything', async () => {
  await withTmpDir(async (dir) => {
    await rejects(writeFileAtomic(join(dir, 'missing', 'f.bin'), new Uint8Array([1])), /ENOENT/);
    assert.equal(readdirSync(dir), []);
  });
});

test.run();
