import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseIdentityHint } from '../../../src/cache/cache-dir';
import { openCache, openOffline } from '../../../src/cache/cache-open';
import { MemorySource, patternBuffer } from '../../helpers/memory-source';
import { UserError } from '../../../src/errors';

describe('a cache given with --cache and no medium (import/export --cache)', () => {
  const good = { size: 262144, sectorSize: 512, fingerprint: 'ab', probeSectors: [0, 8] };

  it('reads what writeIdentityHint writes', () => {
    expect(parseIdentityHint(JSON.stringify(good) + '\n')).to.deep.equal(good);
  });

  it('JSON of another shape says what is wrong', () => {
    expect(() => parseIdentityHint('null')).to.throw(/identity.json holds no object/);
    expect(() => parseIdentityHint('[]')).to.throw(/identity.json holds no object/);
    expect(() => parseIdentityHint(JSON.stringify({ ...good, size: 'x' }))).to.throw(/no valid size/);
    expect(() => parseIdentityHint(JSON.stringify({ ...good, sectorSize: 0 }))).to.throw(/no valid sectorSize/);
    expect(() => parseIdentityHint(JSON.stringify({ ...good, probeSectors: [-1] }))).to.throw(/no valid probeSectors/);
  });

  it('import/export --cache of a cache whose identity.json is null or [] is bad input naming the cache (was a TypeError, exit 2)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-hint-'));
    try {
      fs.writeFileSync(path.join(dir, 'state.sqlite'), '');
      for (const text of ['null', '[]']) {
        fs.writeFileSync(path.join(dir, 'identity.json'), text);
        const err = (await openOffline(dir).catch((e: unknown) => e)) as Error;
        expect(err).to.be.instanceOf(UserError);
        // A malformed hint falls back to the identity the database records (here: none, an empty database).
        expect(err.message).to.equal(`${dir}: cannot read the cache's identity (neither its identity.json nor its database; is it in use?)`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('one never initialised (an empty state.sqlite) is bad input saying so, not "the medium is not connected" (exit 2)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-hint-'));
    try {
      fs.writeFileSync(path.join(dir, 'state.sqlite'), '');
      fs.writeFileSync(path.join(dir, 'identity.json'), JSON.stringify(good));
      const err = (await openOffline(dir).catch((e: unknown) => e)) as Error;
      expect(err).to.be.instanceOf(UserError);
      expect(err.message).to.match(/the cache was never initialised .*open it with its medium/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an identity.json damaged to another size or other probe sectors does not stop export --cache: the database says whose cache it is', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-hint-'));
    try {
      const src = new MemorySource(patternBuffer(262144, 7));
      const dev = await openCache({ source: src, cacheDir: dir });
      await dev.read(0, 262144);
      await dev.close();
      const hint = parseIdentityHint(fs.readFileSync(path.join(dir, 'identity.json'), 'utf8'));
      // was "belongs to a different medium" (exit 1), then "the medium is not connected" (exit 2)
      for (const damaged of [{ ...hint, size: 131072 }, { ...hint, fingerprint: 'zz', probeSectors: [5] }]) {
        fs.writeFileSync(path.join(dir, 'identity.json'), JSON.stringify(damaged));
        const off = await openOffline(dir);
        try {
          expect((await off.readCachedBytes(0, 262144)).equals(src.data)).to.equal(true);
        } finally {
          await off.close();
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
