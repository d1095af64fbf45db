import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Database from 'better-sqlite3';
import { openCache } from '../../../src/cache/cache-open';
import { CacheDamagedError } from '../../../src/cache/errors';
import { DATA_FILE, IDENTITY_HINT_FILE, STATE_FILE } from '../../../src/cache/cache-paths';
import { MemorySource, patternBuffer } from '../../helpers/memory-source';

const MiB = 1024 * 1024;

describe('cache/cache-dir default cache root', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(os.tmpdir() + '/blkfs-root-');
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('a cache directory that lost its state is not taken over: its data file is left as it was, with a warning', async () => {
    const root = path.join(tmp, 'root');
    const src = new MemorySource(patternBuffer(MiB, 3));
    const first = await openCache({ source: src, cacheRoot: root });
    await first.read(0, MiB);
    await first.close();
    fs.rmSync(path.join(first.cacheDir, STATE_FILE));
    const before = fs.readFileSync(path.join(first.cacheDir, DATA_FILE));
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const again = await openCache({ source: src, cacheRoot: root });
      await again.close();
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      expect(again.cacheDir).to.not.equal(first.cacheDir);
    } finally {
      process.off('warning', onWarning);
    }
    expect(fs.readFileSync(path.join(first.cacheDir, DATA_FILE)).equals(before)).to.equal(true);
    expect(fs.existsSync(path.join(first.cacheDir, STATE_FILE))).to.equal(false);
    expect(warnings.join('\n')).to.include(first.cacheDir).and.to.include(STATE_FILE);
  });

  it('a cache whose identity row is lost (a damaged page) is refused as damaged, not created anew over its rescued sectors', async () => {
    const dir = path.join(tmp, 'c');
    const src = new MemorySource(patternBuffer(MiB, 4));
    const dev = await openCache({ source: src, cacheDir: dir });
    await dev.read(0, MiB);
    await dev.close();
    const db = new Database(path.join(dir, STATE_FILE));
    db.exec('DELETE FROM identity');
    const extents = db.prepare('SELECT start, count, status FROM extents ORDER BY start').all();
    db.close();
    src.resetCounts();
    let err: unknown;
    await openCache({ source: src, cacheDir: dir }).then((d) => d.close(), (e) => (err = e));
    expect(err).to.be.instanceOf(CacheDamagedError);
    expect(String(err)).to.match(/no identity/);
    expect(src.stats().reads).to.equal(0);
    const after = new Database(path.join(dir, STATE_FILE), { readonly: true });
    expect(after.prepare('SELECT start, count, status FROM extents ORDER BY start').all()).to.deep.equal(extents);
    after.close();
  });

  it('a cache whose identity.json rotted to another size or fingerprint is still found (its database says), not read again into a new one', async () => {
    const root = path.join(tmp, 'root');
    const src = new MemorySource(patternBuffer(MiB, 5));
    const first = await openCache({ source: src, cacheRoot: root });
    await first.read(0, MiB);
    await first.close();
    const file = path.join(first.cacheDir, IDENTITY_HINT_FILE);
    const hint = JSON.parse(fs.readFileSync(file, 'utf8')) as { size: number; fingerprint: string };
    for (const rotten of [{ ...hint, size: hint.size + 1 }, { ...hint, fingerprint: '1' + hint.fingerprint.slice(1) }]) {
      fs.writeFileSync(file, JSON.stringify(rotten));
      src.resetCounts();
      const again = await openCache({ source: src, cacheRoot: root });
      await again.close();
      expect(again.cacheDir).to.equal(first.cacheDir);
      expect(src.stats().bytes, 'only identity probes are read').to.be.at.most(64 * 1024);
    }
  });
});
