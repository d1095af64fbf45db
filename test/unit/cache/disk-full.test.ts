import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openCache } from '../../../src/cache/cache-open';
import { CacheFullError } from '../../../src/cache/errors';
import { MemorySource, patternBuffer } from '../../helpers/memory-source';

const MiB = 1024 * 1024;

/** A tmpfs of `size` on a fresh directory for the suite (skipped unless root); returns a getter for its path. */
function tinyDisk(size: string): () => string {
  let mnt = '';
  before(function () {
    if (process.getuid?.() !== 0) this.skip();
    mnt = fs.mkdtempSync(os.tmpdir() + '/blkfs-full-');
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt]).status !== 0) {
      fs.rmdirSync(mnt);
      mnt = '';
      this.skip();
    }
  });
  after(() => {
    if (!mnt) return;
    spawnSync('umount', [mnt]);
    fs.rmdirSync(mnt);
  });
  return () => mnt;
}

describe('cache on a full disk (1 MiB tmpfs)', () => {
  const disk = tinyDisk('1M');

  it('fails with CacheFullError, marks nothing new, and keeps serving what was cached', async () => {
    const img = patternBuffer(8 * MiB);
    const src = new MemorySource(img);
    const dev = await openCache({ source: src, cacheDir: path.join(disk(), 'c'), memoryBytes: 0 });
    try {
      let err: unknown;
      let good = 64 * 1024;
      // A reader is answered before its sectors' group commit; flush() confirms (or reports) the commit.
      for (let off = 64 * 1024; off < img.length && !err; off += 128 * 1024) {
        await dev
          .read(off, 128 * 1024)
          .then(() => dev.flush())
          .then(
            () => (good = off + 128 * 1024),
            (e) => (err = e),
          );
      }
      expect(err).to.be.instanceOf(CacheFullError);
      expect((err as Error).message).to.match(/disk full/);
      const st = dev.status();
      expect(st.bytesCached).to.equal(good);
      // once a commit failed, a reader of uncached sectors waits for its own commit: it fails instead of being served
      let again: unknown;
      await dev.read(good, 4096).catch((e) => (again = e));
      expect(again).to.be.instanceOf(CacheFullError);
      expect(dev.status().bytesCached).to.equal(good);
      for (const e of dev.extents()) {
        if (e.status !== '+') continue;
        const r = await dev.read(e.start * 512, e.count * 512);
        expect(r.data.equals(img.subarray(e.start * 512, (e.start + e.count) * 512))).to.equal(true);
      }
      const sectorAfter = good / 512;
      expect(dev.statusAt(sectorAfter)).to.equal('?');
    } finally {
      await dev.close();
    }
    // reopened (on the same full disk), the state still says exactly what is durable
    const dev2 = await openCache({ source: src, cacheDir: path.join(disk(), 'c') });
    try {
      for (const e of dev2.extents()) {
        if (e.status !== '+') continue;
        const r = await dev2.read(e.start * 512, e.count * 512);
        expect(r.data.equals(img.subarray(e.start * 512, (e.start + e.count) * 512))).to.equal(true);
      }
    } finally {
      await dev2.close();
    }
  });
});

describe('cache whose disk filled up (2 MiB tmpfs)', () => {
  const disk = tinyDisk('2M');

  it('reads no sector from the device while it has no room to keep it, and reads it once more when space is freed', async () => {
    const filler = path.join(disk(), 'filler');
    fs.writeFileSync(filler, Buffer.alloc(MiB));
    const img = patternBuffer(8 * MiB);
    const src = new MemorySource(img);
    const dev = await openCache({ source: src, cacheDir: path.join(disk(), 'c'), memoryBytes: 0, readaheadBytes: 0 });
    try {
      let good = 0;
      let err: unknown;
      for (let off = 0; off < img.length && !err; off += 64 * 1024) {
        await dev.read(off, 64 * 1024).then(() => dev.flush()).then(() => (good = off + 64 * 1024), (e) => (err = e));
      }
      expect(err).to.be.instanceOf(CacheFullError);
      const firstLost = good / 512;
      expect(dev.statusAt(firstLost)).to.equal('?');
      const readsWhenFull = src.log.length;
      expect(src.readsOfSector(firstLost)).to.equal(1);

      // Still full: readers fail at once, and the medium is not read for bytes that could not be kept.
      for (let i = 0; i < 3; i++) {
        const again = await dev.read(good, 4096).catch((e: unknown) => e);
        expect(again).to.be.instanceOf(CacheFullError);
        expect((again as Error).message).to.match(/the medium was not read/);
      }
      expect(src.log.length).to.equal(readsWhenFull);

      // Room again: the sector is read (its second read in all) and kept.
      fs.rmSync(filler);
      const r = await dev.read(good, 4096);
      await dev.flush();
      expect(r.data.equals(img.subarray(good, good + 4096))).to.equal(true);
      expect(dev.statusAt(firstLost)).to.equal('+');
      expect(src.readsOfSector(firstLost)).to.equal(2);
    } finally {
      await dev.close();
    }
  });
});
