import { expect } from 'chai';
import { WritableMapfileView } from '../../../src/views/writable-mapfile-view';
import { renderStatus, StatusView } from '../../../src/views/status-view';
import { GeneratedFileView } from '../../../src/views/generated-file-view';
import { closeMemoryCaches, memoryCache } from '../../helpers/memory-cache';

describe('views/GeneratedFileView (/mapfile, /status)', () => {
  afterEach(closeMemoryCaches);

  it('each open handle keeps the text of the moment it was opened', async () => {
    let text = 'first\n';
    const view = new GeneratedFileView(() => text);
    const h1 = await view.open();
    text = 'second, longer\n';
    const h2 = await view.open();
    expect(((await view.read(h1, 0, 100)) as Buffer).toString()).to.equal('first\n');
    expect(((await view.read(h2, 0, 100)) as Buffer).toString()).to.equal('second, longer\n');
    expect(((await view.read(h1, 2, 3)) as Buffer).toString()).to.equal('rst');
    expect(((await view.read(h1, 6, 10)) as Buffer).length).to.equal(0);
  });

  it('getattr gives the size of the largest open snapshot (no reader is told less than it reads), and of a fresh render when none is open', async () => {
    let text = 'abc';
    const view = new GeneratedFileView(() => text);
    const h = await view.open();
    text = 'abcdef';
    expect((await view.getattr()).size).to.equal(3); // what the reader who just opened will get (fstat after open)
    const longer = await view.open();
    text = 'ab';
    const shorter = await view.open(); // opened last, by another reader, while the first two read
    expect((await view.getattr()).size).to.equal(6); // Node's readFile of the 6-byte snapshot reads all 6
    await view.release(longer);
    await view.release(shorter);
    await view.release(h);
    expect((await view.getattr()).size).to.equal(2);
  });

  it('getattr renders again only when the state key changes; an open always renders', async () => {
    let renders = 0;
    let key = 'a';
    const view = new GeneratedFileView(() => `render ${++renders}`, { stateKey: () => key });
    view.getattr();
    view.getattr();
    expect(renders).to.equal(1);
    await view.release(await view.open());
    expect(renders).to.equal(2);
    view.getattr();
    expect(renders).to.equal(2);
    key = 'b';
    view.getattr();
    expect(renders).to.equal(3);
  });

  it('/mapfile serves the cache mapfile text until a writer drives the rescue', async () => {
    const { cache } = await memoryCache(Buffer.alloc(4096, 1), { badSectors: [3] });
    await cache.read(0, 4096);
    const view = new WritableMapfileView(cache, { info: () => {}, warn: () => {}, error: () => {} });
    const text = ((await view.read(await view.open(), 0, 4096)) as Buffer).toString();
    expect(text).to.equal(cache.mapfileText());
    expect(text).to.match(/^0x00000600  0x00000200  -$/m);
    expect((await view.getattr()).size).to.equal(Buffer.byteLength(text));
  });

  it('StatusView is the cache status plus the server, as JSON', async () => {
    const server = { pid: 42, controlSocket: '/tmp/x.ctl', cacheDir: '/c', source: '/dev/sr0', mountpoint: '/mnt' };
    const { cache } = await memoryCache(Buffer.alloc(4096, 1));
    const text = renderStatus(cache, { ...server, activity: () => ({ acquiring: true }) });
    expect(JSON.parse(text)).to.deep.equal({ ...JSON.parse(JSON.stringify(cache.status())), acquiring: true, server });
    const view = new StatusView(cache, server);
    expect(JSON.parse(((await view.read(await view.open(), 0, 4096)) as Buffer).toString()).server.pid).to.equal(42);
  });

  it('serves a Buffer render as is, and an async render with idleSize: the snapshot size while open, idleSize otherwise', async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47]);
    const view = new GeneratedFileView(async () => png, { idleSize: () => 0, mtime: () => new Date(1000) });
    expect(await view.getattr()).to.deep.equal({ size: 0, mode: 0o444, mtime: new Date(1000) });
    const h = await view.open();
    expect((await view.getattr()).size).to.equal(4);
    expect(((await view.read(h, 1, 10)) as Buffer).equals(png.subarray(1))).to.equal(true);
    await view.release(h);
    expect((await view.getattr()).size).to.equal(0);
  });
});

