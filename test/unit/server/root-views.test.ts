import { expect } from 'chai';
import { buildRoot, MountContext, ROOT_VIEWS } from '../../../src/server/root-views';
import { GeneratedFileView } from '../../../src/views/generated-file-view';
import { StaticDirectory } from '../../../src/views/view';
import { closeMemoryCaches, memoryCache } from '../../helpers/memory-cache';

describe('server/root-views (the files of a mount, listed once)', () => {
  afterEach(closeMemoryCaches);

  async function context(): Promise<MountContext> {
    const mem = await memoryCache(Buffer.alloc(4096));
    const archive = { sbx: new StaticDirectory(), rescued: new StaticDirectory(), identity: undefined as never, status: () => ({}), close: async () => {} };
    const server = { pid: 1, controlSocket: '/x', cacheDir: mem.cache.cacheDir, source: 'm.img', mountpoint: '/mnt' };
    const checksums = { state: () => ({ size: 4096, bytesHashed: 0, bytesBad: 0, bytesMissing: 4096, complete: false, waiting: false }), verdict: () => undefined, imageName: () => 'm.img' };
    return { cache: mem.cache, server, archive, acquisitions: mem.acquisitions, checksums, log: () => {}, logger: { info: () => {}, warn: () => {}, error: () => {} } };
  }

  it('lists raw, mapfile, the map pictures, sbx, rescued, checksums, status and the file report at the root, in that order', async () => {
    expect([...buildRoot(await context()).entries().keys()]).to.deep.equal([
      'raw',
      'mapfile',
      'map.png',
      'map.svg',
      'sbx',
      'rescued',
      'checksums',
      'status',
      'files.json',
      'files.csv',
      'files.txt',
    ]);
  });

  it('a new view is one line: a root file, or a file in a directory listed before it', async () => {
    const extra = [...ROOT_VIEWS, ['example.json', () => new GeneratedFileView(() => '{}\n')], ['sbx/checksums', () => new GeneratedFileView(() => '')]] as const;
    const root = buildRoot(await context(), extra);
    expect(root.entries().has('example.json')).to.equal(true);
    expect((root.entries().get('sbx') as StaticDirectory).entries().has('checksums')).to.equal(true);
    expect(() => buildRoot({} as MountContext, [['nope/x', () => new GeneratedFileView(() => '')]])).to.throw(/not a directory/);
  });
});
