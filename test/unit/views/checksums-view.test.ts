// /checksums: `stat` (no handle open) states the size an open gives now, whatever part of the state changed.
import { expect } from 'chai';
import type { ChecksumState } from '../../../src/archive/checksum-tracker';
import type { DatVerdict } from '../../../src/archive/dat';
import { ChecksumsView } from '../../../src/views/checksums-view';

describe('/checksums view', () => {
  it('stat states the size of what an open gives, also after the hashing starts or stops waiting for a fast read', async () => {
    const state: ChecksumState = { size: 1 << 20, bytesHashed: 65536, bytesBad: 0, bytesMissing: (1 << 20) - 65536, complete: false, waiting: false };
    const view = new ChecksumsView({ state: () => state, verdict: () => undefined, imageName: () => 'medium.img' });
    for (const waiting of [false, true, false]) {
      state.waiting = waiting;
      const { size } = await view.getattr();
      const h = await view.open();
      expect(size, `waiting ${waiting}`).to.equal(view.sizeOf(h));
      await view.release(h);
    }
  });

  it('stat gives the size of the text a read gives, also when the image was hashed again (a sector recovered) and its DAT verdict changed', async () => {
    const size = 1 << 20;
    const digests = (c: string) => ({ crc32: c.repeat(8), md5: c.repeat(32), sha1: c.repeat(40), sha256: c.repeat(64) });
    let state: ChecksumState = { size, bytesHashed: size, bytesBad: 512, bytesMissing: 0, complete: true, waiting: false, digests: digests('a') };
    let verdict: DatVerdict = { match: false, dat: 'Redump', entries: 3, text: 'no match among the 3 entries of Redump' };
    const view = new ChecksumsView({ state: () => state, verdict: () => verdict, imageName: () => 'disc.iso' });
    const sizeNow = async () => (await view.getattr()).size;
    const readNow = async () => {
      const h = await view.open();
      const bytes = (await view.read(h, 0, 1 << 16)) as Buffer;
      await view.release(h);
      return bytes.length;
    };
    expect(await sizeNow()).to.equal(await readNow());
    // --retries read the bad sector: hashed again to the same end, now matching a DAT entry.
    state = { ...state, bytesBad: 0, digests: digests('b') };
    verdict = { match: true, game: 'A Game With A Long Name (Europe) (En,Fr,De)', rom: 'A Game With A Long Name (Europe) (En,Fr,De).iso', dat: 'Redump', text: 'matches "A Game With A Long Name (Europe) (En,Fr,De)" (A Game With A Long Name (Europe) (En,Fr,De).iso) in Redump' };
    expect(await sizeNow()).to.equal(await readNow());
    // Incomplete: the wording says whether the hashing waits for a fast reading.
    state = { size, bytesHashed: 4096, bytesBad: 0, bytesMissing: size - 4096, complete: false, waiting: false };
    expect(await sizeNow()).to.equal(await readNow());
    state = { ...state, waiting: true };
    expect(await sizeNow()).to.equal(await readNow());
  });
});
