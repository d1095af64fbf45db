// Two different containers with one UID on a medium (an old and a new encoding with `--uid`, a stale copy next to an
// updated one): /rescued/<UID>/ must never serve a file made of blocks of both.
import { expect } from 'chai';
import { RescuedUidDirectory } from '../../../src/views/rescued/rescued-views';
import { RescuedContainer } from '../../../src/views/rescued/rescued-container';
import { acquireAndScan, makeContainer, pseudoRandom } from './containers';
import { closeMemoryCaches, memoryCache } from '../../helpers/memory-cache';
import { buildBlock } from '../../../src/sbx/format/header';
import { encodeMetadataFields } from '../../../src/sbx/format/metadata';

async function twoGenerations(version: 1 | 17, badSeqOfNew: number) {
  const uid = '0D0000000001';
  const params = { version, uid, d: version === 17 ? 4 : undefined, p: version === 17 ? 2 : undefined, burst: 0 };
  const oldData = pseudoRandom(5000, 11);
  const newData = pseudoRandom(5000, 12);
  const image = pseudoRandom(256 * 1024, 99);
  (await makeContainer(oldData, params)).copy(image, 8192);
  (await makeContainer(newData, params)).copy(image, 65536);
  const cache = await memoryCache(image);
  cache.source.badSectors.add(65536 / 512 + badSeqOfNew);
  return { uid, oldData, newData, containers: await acquireAndScan(cache) };
}

/** True when `data` is a prefix of one of `files`. */
function fromOneFile(data: Buffer, ...files: Buffer[]): boolean {
  return files.some((f) => f.subarray(0, data.length).equals(data));
}

describe('/rescued/<UID>/ with two different containers of one UID on the medium', () => {
  afterEach(closeMemoryCaches);

  for (const version of [1, 17] as const) {
    it(`v${version}: the decoded file never mixes the blocks of the two, and info.json says why it is not decoded`, async () => {
      // The new container lost the block at position 3: that seq is then found in the old container only.
      const { uid, oldData, newData, containers } = await twoGenerations(version, 3);
      const c = (await containers.settled(uid)) as RescuedContainer;
      const r = await c.readDecoded(0, 5000);
      expect(fromOneFile(r.data, oldData, newData), 'decoded bytes from one container').to.equal(true);
      const sorted = await c.readSorted(0, 1 << 20);
      expect(sorted.length, 'no sorted container mixing the two').to.equal(0);
      const info = JSON.parse((await containers.info(c)).toString()) as { problem?: string };
      expect(info.problem).to.match(/different containers/);
      const names = [...(await new RescuedUidDirectory(containers, uid, new Date()).entries()).keys()];
      expect(names).to.deep.equal(['info.json']);
    });
  }
});

describe('/rescued/<UID>/ of a metadata block claiming a file larger than the medium', () => {
  afterEach(closeMemoryCaches);

  it('costs memory for the medium, not for the claimed size (one 512-byte block claiming 16 GB on a 1 MiB medium)', async () => {
    const image = pseudoRandom(1 << 20, 5);
    const payload = encodeMetadataFields([{ id: 'FNM', value: 'huge.bin' }, { id: 'FSZ', value: 16e9 }], 1);
    buildBlock(1, Buffer.from('0E0000000001', 'hex'), 0, payload).copy(image, 4096);
    const cache = await memoryCache(image);
    const containers = await acquireAndScan(cache);
    const before = process.memoryUsage().arrayBuffers;
    const c = (await containers.settled('0E0000000001')) as RescuedContainer;
    const info = JSON.parse((await containers.info(c)).toString()) as { blocks: { missing: number }; decodedFile: { bytesReadable: number } };
    expect(await c.readDecoded(0, 4096)).to.deep.equal({ data: Buffer.alloc(0), errorAt: 0 });
    expect(info.decodedFile.bytesReadable).to.equal(0);
    expect(info.blocks.missing).to.equal(c.lastSeq);
    expect(process.memoryUsage().arrayBuffers - before, 'bytes held for the model').to.be.lessThan(32 << 20);
  });
});

describe('/rescued/<UID>/ when the other container of the UID lost its metadata block', () => {
  afterEach(closeMemoryCaches);

  it('a seq whose copies differ is served from neither: the stale container after the new one is not decoded under the new one\'s metadata', async () => {
    const uid = '0D0000000002';
    const oldData = pseudoRandom(5000, 21);
    const newData = pseudoRandom(5000, 22);
    const image = pseudoRandom(256 * 1024, 98);
    (await makeContainer(newData, { version: 1, uid })).copy(image, 8192);
    (await makeContainer(oldData, { version: 1, uid })).copy(image, 65536);
    // The old container's metadata block is unreadable: nothing but its data blocks tells of it.
    const cache = await memoryCache(image, { badSectors: [65536 / 512] });
    const containers = await acquireAndScan(cache);
    const c = (await containers.settled(uid)) as RescuedContainer;
    const r = await c.readDecoded(0, 5000);
    expect(fromOneFile(r.data, newData), 'decoded bytes from the container of the metadata block').to.equal(true);
    expect(r.errorAt).to.equal(0);
    const info = JSON.parse((await containers.info(c)).toString()) as { blocks: { copiesDisagree: number }; hash: { matches: boolean | null } };
    expect(info.blocks.copiesDisagree).to.equal(11);
    expect(info.hash.matches).to.equal(null);
  });
});
