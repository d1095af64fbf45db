import { expect } from 'chai';
import { MapfileView } from '../../../src/views/mapfile-view';
import { renderStatus, StatusView } from '../../../src/views/status-view';
import { TextSnapshotView } from '../../../src/views/text-snapshot-view';

describe('views/TextSnapshotView (/mapfile, /status)', () => {
  it('each open handle keeps the text of the moment it was opened', async () => {
    let text = 'first\n';
    const view = new TextSnapshotView(() => text);
    const h1 = await view.open();
    text = 'second, longer\n';
    const h2 = await view.open();
    expect(((await view.read(h1, 0, 100)) as Buffer).toString()).to.equal('first\n');
    expect(((await view.read(h2, 0, 100)) as Buffer).toString()).to.equal('second, longer\n');
    expect(((await view.read(h1, 2, 3)) as Buffer).toString()).to.equal('rst');
    expect(((await view.read(h1, 6, 10)) as Buffer).length).to.equal(0);
  });

  it('getattr gives the size of the newest open snapshot, and of a fresh render when none is open', async () => {
    let text = 'abc';
    const view = new TextSnapshotView(() => text);
    const h = await view.open();
    text = 'abcdef';
    expect(view.getattr().size).to.equal(3); // what the reader who just opened will get (fstat after open)
    await view.release(h);
    expect(view.getattr().size).to.equal(6);
  });

  it('getattr renders again only when the state key changes; an open always renders', async () => {
    let renders = 0;
    let key = 'a';
    const view = new TextSnapshotView(
      () => `render ${++renders}`,
      () => key,
    );
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

  it('MapfileView serves the cache mapfile text', async () => {
    const counters = { bytesCached: 0, bytesBad: 0, bytesUntried: 0, bytesNonTrimmed: 0, bytesNonScraped: 0, deviceReads: 0, phase: '?', pass: 1, currentPos: 0 };
    const view = new MapfileView({ mapfileText: () => '0x0 + 1\n', status: () => counters });
    expect(((await view.read(await view.open(), 0, 100)) as Buffer).toString()).to.equal('0x0 + 1\n');
  });

  it('StatusView is the cache status plus the server, as JSON', async () => {
    const server = { pid: 42, controlSocket: '/tmp/x.ctl', cacheDir: '/c', source: '/dev/sr0', mountpoint: '/mnt' };
    const text = renderStatus({ status: () => ({ size: 10, bytesCached: 5 }) }, { ...server, activity: () => ({ acquiring: true }) });
    expect(JSON.parse(text)).to.deep.equal({ size: 10, bytesCached: 5, acquiring: true, server });
    const view = new StatusView({ status: () => ({ size: 10 }) }, server);
    expect(JSON.parse(((await view.read(await view.open(), 0, 4096)) as Buffer).toString()).server.pid).to.equal(42);
  });
});
