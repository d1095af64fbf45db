import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runArchive } from '../../../src/archive/archive-run';
import { DirStore } from '../../../src/archive/dir-store';
import { BAG, CONTAINER, fakeMount, MEDIUM, PART } from '../../helpers/archive-mount';

describe('archive: when parts are ready', () => {
  let tmp: string;
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-ready-'))));
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  // Once ddrescue has written /mapfile, it shows ddrescue's own '?' where ddrescue has not rescued what the cache
  // holds (its image lacks those sectors); an interrupted ddrescue leaves them so. The cache is the truth.
  it('a medium the cache holds whole is archived although /mapfile shows an interrupted ddrescue\'s untried areas', async () => {
    const dest = path.join(tmp, 'bags');
    fs.mkdirSync(dest);
    const container = Buffer.alloc(CONTAINER, 7);
    const mount = {
      ...fakeMount(path.join(tmp, 'cache'), container),
      mapfile: async () => `0x00100000 ? 1\n0x00000000 0x00100000 +\n0x00100000 0x${(MEDIUM - 0x100000).toString(16)} ?\n`,
    };
    const hung = new Promise((r) => setTimeout(r, 5000, 'still waiting for sectors after 5 s'));
    const r = await Promise.race([runArchive(mount, [new DirStore(dest, BAG, PART)], { toolVersion: 'test', partSize: PART }), hung]);
    expect(r).to.not.be.a('string');
    expect(fs.readFileSync(path.join(dest, BAG, 'data', 'image.sbx')).equals(container)).to.equal(true);
  });
});
