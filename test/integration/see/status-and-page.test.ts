// blkfs status, the mount log and the --http web page on one real mount (kernel FUSE, nbdkit with bad ranges),
// the page driven by headless Chromium.
import { expect } from 'chai';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { PNG } from 'pngjs';
import puppeteer, { Browser } from 'puppeteer-core';
import { cellOrigin, COLOURS, layoutMap, SEVERITY } from '../../../src/map';
import { httpGet } from '../../helpers/http-get';
import { BadRange, blkfs, cleanup, MAIN_JS, mount, patternImage, readStatus, sleep, start, startNbdkit, tempDir, writeMedium } from '../mount/harness';

const SIZE = 4 << 20;
const BAD: BadRange[] = [
  { offset: 0x100000, length: 0x200 },
  { offset: 0x300000, length: 0x200 },
];

async function readRange(file: string, offset: number, length: number): Promise<number> {
  const fh = await fs.promises.open(file, 'r');
  try {
    return (await fh.read(Buffer.alloc(length), 0, length, offset)).bytesRead;
  } catch {
    return -1; // EIO at a bad sector: what the test wants to provoke
  } finally {
    await fh.close();
  }
}

const get = (url: string) => httpGet(url);

describe('seeing the rescue: blkfs status, the mount log, the web page', function () {
  this.timeout(120_000);
  let dir: string;
  let mnt: string;
  let raw: string;
  let url: string;

  before(async () => {
    dir = tempDir('see');
    const { imagePath, mapPath } = writeMedium(dir, patternImage(SIZE), BAD);
    const nbd = await startNbdkit(dir, imagePath, mapPath);
    mnt = path.join(dir, 'mnt');
    await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache'), '--http', '127.0.0.1:0', '--log-level', 'debug']);
    raw = path.join(mnt, 'raw');
    url = ((await readStatus(mnt)).server as unknown as { http: string }).http;
    // The first MiB, then the first bad range (EIO).
    expect(await readRange(raw, 0, 0x100000)).to.equal(0x100000);
    expect(await readRange(raw, 0x100000, 0x1000)).to.equal(-1);
  });

  after(() => cleanup(dir));

  it('blkfs status says how much is rescued, where the bad areas are, and where the log is', async () => {
    const r = await blkfs(['status', mnt]);
    expect(r.code, r.stderr).to.equal(0);
    const s = await readStatus(mnt);
    expect(r.stdout).to.match(/rescued:\s+25(\.\d+)?% \(1\.0\d MB\)/);
    expect(r.stdout).to.match(/bad:\s+512 B in 1 area, largest 512 B/);
    expect(r.stdout).to.include(`log:            ${path.join(dir, 'cache', 'mount.log')}`);
    expect(r.stdout).to.include(`web page:       ${url}`);
    // Not a TTY: the map line is plain ddrescue characters, no escape codes.
    expect(r.stdout).to.not.include('\x1b[');
    const mapLine = r.stdout.split('\n').find((l) => /^[+?*/\- ]{20,}$/.test(l));
    expect(mapLine, r.stdout).to.match(/^\++-/);
    expect(s.bytesBad).to.equal(512);
  });

  it('blkfs status --json prints /status; a directory that is not a blkfs mount is exit 1', async () => {
    const r = await blkfs(['status', '--json', mnt]);
    expect(r.code).to.equal(0);
    const j = JSON.parse(r.stdout);
    expect(j.server.mountpoint).to.equal(mnt);
    expect(j.map).to.deep.equal({ badAreas: 1, largestBadArea: 512 });
    const bad = await blkfs(['status', dir]);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.include('not a mountpoint');
  });

  it('blkfs status --watch redraws until Ctrl-C, then exits 0', async () => {
    const { child, result } = start(process.execPath, [MAIN_JS, 'status', '--watch', '--interval', '0.2', mnt]);
    // Three screens, however long a loaded machine takes to draw them (a fixed 1.5 s saw two under load).
    let drawn = 0;
    child.stdout!.on('data', (d: string) => (drawn += d.split('rescued:').length - 1)); // utf8: start() set it
    for (let waited = 0; drawn < 3 && waited < 20_000; waited += 100) await sleep(100);
    child.kill('SIGINT');
    const r = await result;
    expect(r.code).to.equal(0);
    expect(r.stdout.split('rescued:').length - 1).to.be.at.least(3);
  });

  it('the mount log has every device error (offset, length, errno, duration)', async () => {
    const log = await fs.promises.readFile(path.join(dir, 'cache', 'mount.log'), 'utf8');
    const errors = log.split('\n').filter((l) => l.includes('ERROR: device error:'));
    expect(errors.length).to.be.greaterThan(0);
    expect(errors.join('\n')).to.match(/device error: offset 1048576 length \d+ errno 5 \(EIO\) after \d+ ms/);
    expect(log).to.match(/DEBUG: read: offset \d+ length \d+/);
  });

  it('the web page serves only its own files: traversal and other mount files are 404', async () => {
    for (const p of ['raw', 'status', '../raw', '%2e%2e/raw', 'sbx/..%2fraw', 'sbx/%2e%2e/raw', 'rescued/x/y', 'etc/passwd', 'mapfile/x']) {
      expect((await get(url + p)).code, p).to.equal(404);
    }
    // DNS rebinding: a page of another site resolving its name to 127.0.0.1 sends its own Host.
    const rebound = await new Promise<number>((resolve, reject) =>
      http
        .get(url + 'status.json', { headers: { host: 'evil.example:80' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject),
    );
    expect(rebound).to.equal(403);
    const mapfile = await get(url + 'mapfile');
    expect(mapfile.code).to.equal(200);
    expect(mapfile.body.toString()).to.match(/0x00100000\s+0x00000200\s+-/);
    const png = PNG.sync.read((await get(url + 'map.png')).body);
    expect(png.width).to.equal(800);
  });

  it('the web page offers the file report and the checksums it names, as the mount has them', async () => {
    const page = (await get(url)).body.toString();
    for (const name of ['files.txt', 'files.csv', 'files.json', 'checksums']) {
      expect(page, name).to.contain(`href="${name}"`);
      const r = await get(url + name);
      expect(r.code, name).to.equal(200);
      // Of the checksums, the first line: their progress line may move on between the two reads.
      const same = (t: string) => (name === 'checksums' ? t.split('\n')[0] : t);
      expect(same(r.body.toString()), name).to.equal(same(await fs.promises.readFile(path.join(mnt, name), 'utf8')));
    }
  });

  it('/map.png has the status colours where the cache says, and changes as reads land', async () => {
    const size = (await readStatus(mnt)).size;
    // Same geometry as the server's picture (4096 cells over the medium, 1 KiB each here).
    const p = layoutMap([], size, { granule: 512, currentPos: 0 });
    const colourAt = (png: PNG, byte: number) => {
      const { x, y } = cellOrigin(p, Math.floor(byte / p.grid.cellBytes));
      const i = ((y + 2) * png.width + x + 2) * 4;
      return [png.data[i], png.data[i + 1], png.data[i + 2]];
    };
    // The mount's /map.png and the page's are the same picture.
    const before = PNG.sync.read(await fs.promises.readFile(path.join(mnt, 'map.png')));
    expect(PNG.sync.read((await get(url + 'map.png')).body).data.equals(before.data)).to.equal(true);
    expect(colourAt(before, 0)).to.deep.equal([...COLOURS[SEVERITY['+']]]);
    expect(colourAt(before, 0x100000)).to.deep.equal([...COLOURS[SEVERITY['-']]]);
    expect(colourAt(before, 0x3c0000)).to.deep.equal([...COLOURS[SEVERITY['?']]]);
    expect(await readRange(raw, 0x3c0000, 0x1000)).to.equal(0x1000);
    const after = PNG.sync.read(await fs.promises.readFile(path.join(mnt, 'map.png')));
    expect(colourAt(after, 0x3c0000)).to.deep.equal([...COLOURS[SEVERITY['+']]]);
    const svg = await fs.promises.readFile(path.join(mnt, 'map.svg'), 'utf8');
    expect(svg).to.match(/^<svg /).and.include('data-status="-"');
  });

  it('--http warns about an address that is not loopback, and a port in use is exit 1 with a clear message', async () => {
    const warn = await blkfs(['mount', path.join(dir, 'no-such.img'), path.join(dir, 'mnt2'), '--http', '0.0.0.0:0']);
    expect(warn.stderr).to.include('warning: --http 0.0.0.0:0 is not a loopback address');
    expect(warn.code).to.equal(1);
    const busy = new URL(url);
    fs.mkdirSync(path.join(dir, 'mnt3'));
    const r = await blkfs(['mount', path.join(dir, 'medium.img'), path.join(dir, 'mnt3'), '--cache', path.join(dir, 'cache3'), '--http', `127.0.0.1:${busy.port}`]);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.include(`cannot serve the web page on 127.0.0.1:${busy.port}: EADDRINUSE`);
  });

  it('headless Chromium shows the progress and the map, and the page follows new reads', async () => {
    let browser: Browser | undefined;
    try {
      browser = await puppeteer.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
      const page = await browser.newPage();
      await page.setViewport({ width: 1000, height: 1400 });
      await page.goto(url, { waitUntil: 'load', timeout: 20_000 });
      await page.waitForFunction('document.body.dataset.version !== undefined', { timeout: 10_000 });
      const pct = async () => (await page.evaluate('document.getElementById("pct").textContent')) as string;
      expect(await pct()).to.match(/^25(\.\d+)?%$/);
      expect(await page.evaluate('document.getElementById("bad").textContent')).to.include('1 area(s)');
      expect(await page.evaluate('document.querySelectorAll("#bad-areas tr").length')).to.equal(2);
      await page.waitForFunction('document.body.dataset.mapVersion !== undefined && document.getElementById("map").naturalWidth === 800', { timeout: 10_000 });
      const shot = path.join(dir, 'page-before.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(PNG.sync.read(fs.readFileSync(shot)).width).to.equal(1000);

      // Another MiB lands in the cache: the page updates by itself (server-sent events), no reload.
      const version = (await page.evaluate('document.body.dataset.version')) as string;
      expect(await readRange(raw, 0x200000, 0x100000)).to.equal(0x100000);
      // A refresh sets the percentage first and its version last: wait for a finished refresh that shows the new MiB.
      await page.waitForFunction(
        `Number(document.body.dataset.version) > ${version} && /^5\\d(\\.\\d+)?%$/.test(document.getElementById("pct").textContent)`,
        { timeout: 15_000 },
      );
      await page.waitForFunction(`Number(document.body.dataset.mapVersion) > ${version}`, { timeout: 10_000 });
      await page.screenshot({ path: process.env.BLKFS_SCREENSHOT ?? path.join(dir, 'page-after.png'), fullPage: true });
    } finally {
      await browser?.close();
    }
  });
  it('blkfs status --watch whose server dies says it is a dead mount and how to clear it (exit 1)', async () => {
    const own = path.join(dir, 'dying');
    const image = path.join(dir, 'dying.img');
    fs.writeFileSync(image, patternImage(1 << 20));
    const pid = await mount(image, own, ['--cache', path.join(dir, 'dying-cache')]);
    // The first frame is drawn at once; the server dies while the watch waits for the next one.
    const { result } = start(process.execPath, [MAIN_JS, 'status', '--watch', '--interval', '2', own]);
    await sleep(1000);
    process.kill(pid, 'SIGKILL'); // our own server: its mount is left dead (ENOTCONN) until `blkfs umount`
    const r = await result;
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.match(/is gone \(a dead mount\): run blkfs umount/);
    expect((await blkfs(['umount', own])).code).to.equal(0);
  });

  // Last: it unmounts the shared mount.
  it('blkfs status --watch on a terminal gives the cursor back when the mount goes away (exit 1, named)', async () => {
    const watch = `${process.execPath} ${MAIN_JS} status --watch --interval 0.2 ${mnt}`;
    const { result } = start('script', ['-qec', `timeout -s INT 60 ${watch}`, '/dev/null']); // a pty: the TTY path
    await sleep(1000);
    expect((await blkfs(['umount', '--lazy', mnt])).code).to.equal(0); // lazy: the watch may hold /status open
    const r = await result;
    expect(r.code, r.stdout).to.equal(1);
    expect(r.stdout).to.include('is no longer a blkfs mount');
    expect(r.stdout.lastIndexOf('\x1b[?25h')).to.be.greaterThan(r.stdout.lastIndexOf('\x1b[?25l'));
  });
});
