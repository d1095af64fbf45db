import Database from 'better-sqlite3';
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RunLengthMap, SECTOR_STATUSES, SectorMap } from '../../../src/cache/extent-map';
import { CacheDamagedError } from '../../../src/cache/errors';
import { StateStore } from '../../../src/cache/state-store';
import { UserError } from '../../../src/errors';
import { mergeRanges } from '../../../src/cache/byte-ranges';
import { seededInts } from '../../helpers/seeded-random';

describe('cache/state-store StateStore', () => {
  let tmp: string;
  beforeEach(() => (tmp = fs.mkdtempSync(os.tmpdir() + '/blkfs-state-')));
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('a database that is not SQLite is a CacheDamagedError naming the file, and is left as it was', () => {
    const file = path.join(tmp, 'state.sqlite');
    fs.writeFileSync(file, Buffer.alloc(4096, 0x5a));
    expect(() => StateStore.open(file, tmp)).to.throw(CacheDamagedError, /state\.sqlite is unreadable \(file is not a database\)/);
    expect(fs.readFileSync(file)).to.deep.equal(Buffer.alloc(4096, 0x5a));
  });

  it('a malformed identity row (hand-edited or damaged) is a CacheDamagedError naming the field, not a TypeError', () => {
    const file = path.join(tmp, 'state.sqlite');
    const store = StateStore.open(file, tmp);
    store.initialize({ size: 2048, sectorSize: 512, fingerprint: 'abc', probeSectors: [1, 3] }, new SectorMap(4));
    store.close();
    for (const [sql, what] of [
      ["UPDATE identity SET probe_sectors = 'null'", /probe sectors null/],
      ['UPDATE identity SET probe_sectors = \'[4]\'', /probe sectors \[4\]/], // past the medium's 4 sectors
      ['UPDATE identity SET size = -5', /size -5/],
      ['UPDATE identity SET sector_size = 0', /sector size 0/],
    ] as const) {
      const db = new Database(file);
      db.exec("UPDATE identity SET size = 2048, sector_size = 512, probe_sectors = '[1,3]'");
      db.exec(sql);
      db.close();
      const s = StateStore.open(file, tmp);
      try {
        expect(() => s.identity()).to.throw(CacheDamagedError, what);
      } finally {
        s.close();
      }
    }
  });

  it('extent rows that do not tile the medium (damaged, hand-edited) are a CacheDamagedError with the run at fault', () => {
    const file = path.join(tmp, 'state.sqlite');
    const store = StateStore.open(file, tmp);
    store.initialize({ size: 2048, sectorSize: 512, fingerprint: 'abc', probeSectors: [1, 3] }, new SectorMap(4));
    store.close();
    for (const [sql, what] of [
      ["UPDATE extents SET status = 'x'", /broken sector map \(sector runs do not tile the medium: run at 0 \(\+4, 'x'\) after 0\)/],
      ["UPDATE extents SET count = 'abc'", /run at 0 \(\+abc, '\?'\) after 0/],
      ['DELETE FROM extents', /broken sector map \(sector runs end at 0, the medium has 4 sectors\)/],
    ] as const) {
      const db = new Database(file);
      db.exec("DELETE FROM extents; INSERT INTO extents VALUES (0, 4, '?')");
      db.exec(sql);
      db.close();
      const s = StateStore.open(file, tmp);
      try {
        expect(() => s.loadSectorMap(4)).to.throw(CacheDamagedError, what);
      } finally {
        s.close();
      }
    }
  });

  it('a database of a newer schema is bad input (exit 1) and is left as it was', () => {
    const file = path.join(tmp, 'state.sqlite');
    StateStore.open(file, tmp).close();
    const db = new Database(file);
    db.pragma('user_version = 999');
    db.close();
    const before = fs.readFileSync(file);
    expect(() => StateStore.open(file, tmp)).to.throw(UserError, /has schema 999, newer than this blkfs/);
    expect(fs.readFileSync(file).equals(before)).to.equal(true);
  });

  it("another program's SQLite database is bad input (exit 1) and is left as it was: no tables added, not made WAL", () => {
    const file = path.join(tmp, 'state.sqlite');
    const db = new Database(file);
    db.exec("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO photos (name) VALUES ('cat.jpg')");
    db.close();
    const before = fs.readFileSync(file);
    expect(() => StateStore.open(file, tmp)).to.throw(UserError, /state\.sqlite is an SQLite database that is not a blkfs cache \(it has table\(s\) photos\)/);
    expect(fs.readFileSync(file).equals(before)).to.equal(true);
    expect(fs.existsSync(`${file}-wal`)).to.equal(false);
  });

  it('merges touching and overlapping ranges', () => {
    expect(mergeRanges([[5, 6], [0, 2], [2, 3], [4, 5], [9, 9]])).to.deep.equal([[0, 3], [4, 6]]);
  });

  it('mirrors the in-memory map as maximal run rows through random incremental commits', () => {
    const n = 5000;
    const file = path.join(tmp, 'state.sqlite');
    let store = StateStore.open(file, tmp);
    const map = new SectorMap(n);
    const tries = new RunLengthMap<number>(n, 0);
    store.initialize({ size: n * 512, sectorSize: 512, fingerprint: 'x', probeSectors: [] }, map);
    const rnd = seededInts(7);
    for (let batch = 0; batch < 300; batch++) {
      const dirty: [number, number][] = [];
      const dirtyTries: [number, number][] = [];
      for (let k = 0; k < 1 + rnd(5); k++) {
        const s = rnd(n);
        const c = 1 + rnd(Math.min(200, n - s));
        map.set(s, c, SECTOR_STATUSES[rnd(5)]);
        dirty.push([s, s + c]);
        if (rnd(4) === 0) {
          tries.set(s, 1, tries.valueAt(s) + 1);
          dirtyTries.push([s, s + 1]);
        }
      }
      store.transaction(() => store.persistRuns(map, dirty, tries, dirtyTries));
    }
    const rows = (store.database().prepare('SELECT count(*) AS n FROM extents').get() as { n: number }).n;
    expect(rows).to.equal(map.runCount);
    store.close();
    store = StateStore.open(file, tmp);
    expect(store.loadSectorMap(n).extents()).to.deep.equal(map.extents());
    expect(store.loadRetryCounts(n).extents()).to.deep.equal(tries.extents());
    store.close();
  });

  it('keeps identity and settings', () => {
    const file = path.join(tmp, 'state.sqlite');
    let store = StateStore.open(file, tmp);
    expect(store.identity()).to.equal(undefined);
    store.initialize({ size: 2048, sectorSize: 512, fingerprint: 'abc', probeSectors: [1, 3] }, new SectorMap(4));
    store.setSetting('k', 'v');
    store.close();
    store = StateStore.open(file, tmp);
    expect(store.identity()).to.deep.equal({ size: 2048, sectorSize: 512, fingerprint: 'abc', probeSectors: [1, 3], stableIdentity: undefined });
    expect(store.getSetting('k')).to.equal('v');
    store.close();
  });
});
