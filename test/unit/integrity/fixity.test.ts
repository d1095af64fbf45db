// Fixity ledger: a checksum per stored chunk in the same commit as its '+', checked on first serve; an older
// cache without checksums is served as before and checksummed by its first verify (trust on first verify).
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Database from 'better-sqlite3';
import { openCache } from '../../../src/cache/cache-open';
import { ChunkDamagedError, CRC_TURN_BYTES, crcOf, crcOfInTurns, FixityLedger } from '../../../src/cache/fixity';
import { verifyCacheDir } from '../../../src/cache/offline-verify';
import { MemorySource, patternBuffer } from '../../helpers/memory-source';

const SIZE = 1024 * 1024;

describe('integrity/fixity ledger', () => {
  let tmp: string;
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-fixity-'))));
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  async function filled(dir: string, img: Buffer): Promise<void> {
    const dev = await openCache({ source: new MemorySource(img), cacheDir: dir });
    await dev.read(0, SIZE);
    await dev.close();
  }

  it('among thousands of damaged ranges each read is refused exactly where one lies, at its edges too', () => {
    // A complete cache whose state says '+' for 20,000 runs of 8 sectors, every other 8, none with its checksum: each
    // is damage (a data file partly overwritten looks the same to every read).
    const db = new Database(':memory:');
    db.exec('CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    const ss = 512;
    const runs = 20_000;
    const ledger = FixityLedger.open(db, { sectorSize: ss, size: runs * 16 * ss, readData: async () => Buffer.alloc(0) });
    ledger.refuseUnrecorded(Array.from({ length: runs }, (_, k) => ({ start: 16 * k + 8, count: 8, status: '+' as const })));
    expect(ledger.status().damagedChunks).to.equal(runs);
    // Each range's edges: the sector just before it, its first, its last, the one just after it.
    const edges = Array.from({ length: runs }, (_, k) => [16 * k + 7, 16 * k + 8, 16 * k + 15, 16 * k + 16]).flat();
    const served = edges.map((s) => ledger.servable(s, s + 1));
    const wrong = edges.filter((s, i) => served[i] !== (s % 16 < 8));
    expect(wrong, 'sectors served inside a damaged range, or refused outside one').to.deep.equal([]);
    db.close();
  });

  it("a streamed chunk's checksum is taken in turns of the event loop, and equals the one taken at once", async () => {
    const data = patternBuffer(4 * CRC_TURN_BYTES + 5, 7);
    for (const n of [0, 1, CRC_TURN_BYTES - 1, CRC_TURN_BYTES, CRC_TURN_BYTES + 1, data.length]) {
      expect(await crcOfInTurns(data.subarray(0, n)), `${n} bytes`).to.equal(crcOf(data.subarray(0, n)));
    }
    // A FUSE request or a socket read waiting on the event loop is not held up by a whole multi-MiB checksum.
    let ranBetween = false;
    setImmediate(() => (ranBetween = true));
    const taking = crcOfInTurns(data).then(() => ranBetween);
    expect(await taking, 'the event loop ran before the checksum was done').to.equal(true);
  });

  it('every stored chunk has its checksum; a flipped byte is refused on first serve, the rest is served', async () => {
    const img = patternBuffer(SIZE, 4);
    const dir = path.join(tmp, 'c');
    await filled(dir, img);
    expect((await verifyCacheDir(dir)).damaged).to.deep.equal([]);
    const fd = fs.openSync(path.join(dir, 'data.img'), 'r+');
    fs.writeSync(fd, Buffer.from([img[700_000] ^ 0xff]), 0, 1, 700_000);
    fs.closeSync(fd);
    const src = new MemorySource(img);
    const dev = await openCache({ source: src, cacheDir: dir });
    try {
      const err = await dev.read(699_000, 4096).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(ChunkDamagedError);
      expect((await dev.read(0, 65536)).data.equals(img.subarray(0, 65536))).to.equal(true);
      expect(dev.status().fixity?.damagedChunks).to.equal(1);
      expect(src.stats().reads, 'nothing read from the device but the identity probe').to.equal(dev.status().identityProbe.sectors);
    } finally {
      await dev.close();
    }
  });

  it('damage a mounted verify finds in a chunk stored this session is not served: the chunk is read again from the medium (review)', async () => {
    const img = patternBuffer(SIZE, 8);
    const dir = path.join(tmp, 'live');
    const src = new MemorySource(img);
    const dev = await openCache({ source: src, cacheDir: dir, canRepair: () => true }); // the medium attached, as a mount's
    try {
      await dev.read(0, SIZE);
      await dev.flush(); // stored and committed in this session: trusted when served, until a check says otherwise
      const fd = fs.openSync(path.join(dir, 'data.img'), 'r+');
      fs.writeSync(fd, Buffer.from([img[700_000] ^ 0xff]), 0, 1, 700_000);
      fs.closeSync(fd);
      expect((await dev.verifyFixity()).damaged).to.have.length(1);
      const reads = src.stats().reads;
      const again = await dev.read(655_360, 65_536); // the damaged range, through the data file
      expect(again.data.equals(img.subarray(655_360, 720_896)), 'the right bytes, not the flipped one').to.equal(true);
      expect(src.stats().reads, 'read again from the medium').to.be.greaterThan(reads);
      expect(dev.status().fixity?.repairs).to.equal(1);
    } finally {
      await dev.close();
    }
  });

  it('a chunk repaired while verify reads it is judged by its new checksum on its new bytes, and they are served (review)', async () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT)');
    let bytes = Buffer.alloc(2048, 1);
    let ledger: FixityLedger | undefined;
    let repaired = false;
    const reader = {
      sectorSize: 512,
      size: 2048,
      readData: async (offset: number, length: number) => {
        if (!repaired) {
          // A reader found sectors 0-1 damaged: forgotten, read again from the medium, stored with a new checksum.
          repaired = true;
          ledger!.forget(0, 2);
          bytes = Buffer.concat([Buffer.alloc(1024, 9), bytes.subarray(1024)]);
          ledger!.record(0, 2, bytes.subarray(0, 1024));
        }
        return bytes.subarray(offset, offset + length);
      },
    };
    FixityLedger.open(db, reader).record(0, 2, Buffer.alloc(1024, 7)); // stored before: checksum of other bytes (damage)
    FixityLedger.open(db, reader).record(2, 2, bytes.subarray(1024));
    ledger = FixityLedger.open(db, reader); // both chunks loaded at open
    const report = await ledger.verifyAll([{ start: 0, count: 4, status: '+' }]);
    expect(report.damaged, 'no verdict on the forgotten chunk').to.deep.equal([]);
    expect(ledger.servable(0, 2)).to.equal(true);
    await ledger.checkBeforeServe(0, 4);
  });

  it('a cache without checksums (made before them) is served, and its first verify checksums it as it is', async () => {
    const img = patternBuffer(SIZE, 5);
    const dir = path.join(tmp, 'old');
    await filled(dir, img);
    const db = new Database(path.join(dir, 'state.sqlite'));
    db.exec("DROP TABLE fixity; DELETE FROM settings WHERE key = 'fixity.complete'"); // as made before checksums
    db.close();
    const dev = await openCache({ source: new MemorySource(img), cacheDir: dir });
    expect((await dev.read(0, SIZE)).data.equals(img)).to.equal(true);
    await dev.close();
    const first = await verifyCacheDir(dir);
    expect(first.adoptedBytes).to.equal(SIZE);
    expect(first.damaged).to.deep.equal([]);
    const second = await verifyCacheDir(dir);
    expect(second.adoptedBytes).to.equal(0);
    expect(second.checkedBytes).to.equal(SIZE);
    dropChecksumOf(dir, 10); // adopted once: from then on, like a cache made with checksums
    const third = await verifyCacheDir(dir);
    expect(third.adoptedBytes).to.equal(0);
    expect(third.damaged.map((d) => d.reason)).to.deep.equal(['unrecorded']);
  });

  /** Deletes the checksum row of the chunk holding `sector`, as a damaged or hand-edited state would lose it. */
  function dropChecksumOf(dir: string, sector: number): { offset: number; length: number } {
    const db = new Database(path.join(dir, 'state.sqlite'));
    try {
      const c = db.prepare('SELECT start, count FROM fixity WHERE start <= ? ORDER BY start DESC LIMIT 1').get(sector) as { start: number; count: number };
      expect(c.start + c.count, 'a chunk holds the sector').to.be.greaterThan(sector);
      db.prepare('DELETE FROM fixity WHERE start = ?').run(c.start);
      return { offset: c.start * 512, length: c.count * 512 };
    } finally {
      db.close();
    }
  }

  it("a '+' sector whose checksum is gone, in a cache made with checksums: named by verify and never adopted; a read is refused, or read again from the medium (review)", async () => {
    const img = patternBuffer(SIZE, 9);
    const dir = path.join(tmp, 'lost');
    await filled(dir, img);
    const lost = dropChecksumOf(dir, 1400);
    const fd = fs.openSync(path.join(dir, 'data.img'), 'r+');
    fs.writeSync(fd, Buffer.alloc(lost.length), 0, lost.length, lost.offset); // and its bytes zeroed
    fs.closeSync(fd);
    for (const round of [1, 2]) {
      const report = await verifyCacheDir(dir);
      expect(report.adoptedBytes, `verify ${round}`).to.equal(0);
      expect(report.damaged, `verify ${round}`).to.deep.equal([{ ...lost, reason: 'unrecorded' }]);
    }
    const detached = await openCache({ source: new MemorySource(img), cacheDir: dir });
    try {
      expect(await detached.read(1400 * 512, 4096).catch((e: unknown) => e)).to.be.instanceOf(ChunkDamagedError);
      expect(detached.status().fixity?.damagedChunks).to.equal(1);
    } finally {
      await detached.close();
    }
    const attached = await openCache({ source: new MemorySource(img), cacheDir: dir, canRepair: () => true });
    try {
      expect((await attached.read(lost.offset, lost.length)).data.equals(img.subarray(lost.offset, lost.offset + lost.length))).to.equal(true);
      expect(attached.status().fixity?.repairs).to.equal(1);
    } finally {
      await attached.close();
    }
    expect((await verifyCacheDir(dir)).damaged).to.deep.equal([]);
  });

  it("a cache made before the completeness marker, every '+' sector with its checksum, is held to the rule from its next open (review)", async () => {
    const img = patternBuffer(SIZE, 11);
    const dir = path.join(tmp, 'previous');
    await filled(dir, img);
    const db = new Database(path.join(dir, 'state.sqlite'));
    db.exec("DELETE FROM settings WHERE key = 'fixity.complete'"); // as the previous version left it
    db.close();
    await (await openCache({ source: new MemorySource(img), cacheDir: dir })).close(); // a mount, an export
    dropChecksumOf(dir, 1400);
    const report = await verifyCacheDir(dir);
    expect(report.adoptedBytes).to.equal(0);
    expect(report.damaged.map((d) => d.reason)).to.deep.equal(['unrecorded']);
  });

  it('a cache being created never has a "+" sector without its checksum, even if recording the checksums fails', async () => {
    const img = patternBuffer(SIZE, 6);
    const dir = path.join(tmp, 'new');
    const record = FixityLedger.prototype.record;
    FixityLedger.prototype.record = () => {
      throw new Error('crash while recording the checksums (test)');
    };
    try {
      const err = await openCache({ source: new MemorySource(img), cacheDir: dir, spreadSamples: true }).catch((e: unknown) => e);
      expect((err as Error).message).to.match(/crash while recording/);
    } finally {
      FixityLedger.prototype.record = record;
    }
    const db = new Database(path.join(dir, 'state.sqlite'));
    try {
      const plus = db.prepare("SELECT start, count FROM extents WHERE status = '+'").all() as { start: number; count: number }[];
      const crcs = db.prepare('SELECT start, count FROM fixity').all() as { start: number; count: number }[];
      const unchecked = plus.flatMap((r) => Array.from({ length: r.count }, (_, i) => r.start + i)).filter((s) => !crcs.some((c) => c.start <= s && s < c.start + c.count));
      expect(unchecked, "'+' sectors without a checksum").to.deep.equal([]);
    } finally {
      db.close();
    }
  });
});
