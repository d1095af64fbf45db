// A damaged chunk read again from the medium (repair) while other readers are busy nearby: none of them may keep
// or serve the damaged bytes afterwards.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openCache } from '../../../src/cache/cache-open';
import type { CachedDevice } from '../../../src/cache/cached-device';
import type { DataFile } from '../../../src/cache/data-file';
import { MemorySource, patternBuffer } from '../../helpers/memory-source';

const SIZE = 1024 * 1024;
const KiB = 1024;

/** The data file under a cache (to slow one of its reads down). */
const dataFileOf = (dev: CachedDevice) => (dev as unknown as { store: { data: DataFile } }).store.data;

describe('integrity/repair races', () => {
  let tmp: string;
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-repair-'))));
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('a small read whose block pread began before a repair does not put the damaged bytes in the memory cache', async () => {
    const img = patternBuffer(SIZE, 11);
    const dir = path.join(tmp, 'c');
    // Chunks of 8 KiB: a 64 KiB memory block holds eight of them.
    const first = await openCache({ source: new MemorySource(img), cacheDir: dir });
    for (let off = 0; off < SIZE; off += 8 * KiB) await first.read(off, 8 * KiB);
    await first.close();
    const block = 512 * KiB; // a 64 KiB memory block; its first chunk is damaged
    const fd = fs.openSync(path.join(dir, 'data.img'), 'r+');
    fs.writeSync(fd, Buffer.from([img[block + 100] ^ 0xff]), 0, 1, block + 100);
    fs.closeSync(fd);

    const dev = await openCache({ source: new MemorySource(img), cacheDir: dir, canRepair: () => true });
    try {
      // Reader B: 4 KiB of another chunk of that block. Its block pread gets the bytes as they are now (damaged
      // chunk included), then is held back until the repair is done.
      const data = dataFileOf(dev);
      const readInto = data.readInto.bind(data);
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let blockRead!: () => void;
      const blockReadDone = new Promise<void>((r) => (blockRead = r));
      data.readInto = async (target, at, length, position) => {
        await readInto(target, at, length, position);
        if (position === block && length === 64 * KiB) {
          blockRead();
          await held;
        }
      };
      const b = dev.read(block + 16 * KiB, 4 * KiB);
      await blockReadDone;
      // Reader A: the damaged chunk. Refused on first serve, read again from the medium, stored anew.
      const a = await dev.read(block, 8 * KiB);
      expect(a.data.equals(img.subarray(block, block + 8 * KiB))).to.equal(true);
      await dev.flush();
      release();
      expect((await b).data.equals(img.subarray(block + 16 * KiB, block + 20 * KiB))).to.equal(true);
      // Reader C: a small read of the repaired chunk gets the medium's bytes, not the damaged copy B read.
      const c = await dev.read(block, 4 * KiB);
      expect(c.data.equals(img.subarray(block, block + 4 * KiB)), 'the repaired chunk, not the damaged copy').to.equal(true);
    } finally {
      await dev.close();
    }
  });

  it('two first serves of one damaged chunk: the one whose check ends after the repair does not repair it again', async () => {
    const img = patternBuffer(SIZE, 12);
    const dir = path.join(tmp, 'c');
    const first = await openCache({ source: new MemorySource(img), cacheDir: dir });
    for (let off = 0; off < SIZE; off += 8 * KiB) await first.read(off, 8 * KiB);
    await first.close();
    const chunk = 512 * KiB;
    const fd = fs.openSync(path.join(dir, 'data.img'), 'r+');
    fs.writeSync(fd, Buffer.from([img[chunk + 100] ^ 0xff]), 0, 1, chunk + 100);
    fs.closeSync(fd);

    const src = new MemorySource(img);
    const dev = await openCache({ source: src, cacheDir: dir, canRepair: () => true });
    try {
      // Both readers check the chunk before serving it. The second one's pread reads the damaged bytes, then is held
      // back (a slow disk) until the first reader has repaired the chunk and its repair is committed.
      const data = dataFileOf(dev);
      const readInto = data.readInto.bind(data);
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let checks = 0;
      data.readInto = async (target, at, length, position) => {
        const second = position === chunk && ++checks === 2;
        await readInto(target, at, length, position);
        if (second) await held;
      };
      const a = dev.read(chunk, 8 * KiB);
      const b = dev.read(chunk, 8 * KiB);
      expect((await a).data.equals(img.subarray(chunk, chunk + 8 * KiB))).to.equal(true);
      await dev.flush();
      expect(dev.statusAt(chunk / 512)).to.equal('+');
      expect(src.readsOfSector(chunk / 512), 'repaired: read again once').to.equal(1);
      release();
      expect((await b).data.equals(img.subarray(chunk, chunk + 8 * KiB))).to.equal(true);
      await dev.flush();
      expect(src.readsOfSector(chunk / 512), 'the repaired chunk is not read from the medium a second time').to.equal(1);
      expect(dev.status().fixity?.repairs).to.equal(1);
    } finally {
      await dev.close();
    }
  });
});
