// The web page in real Chromium against what is not the user's: another site's page that has the browser fetch
// from the mount's port (that would set the medium reading), and names from a crafted medium that would pose as
// other names on the page. The server runs in-process on a small view tree (no mount needed for what it serves).
import { expect } from 'chai';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import type { AddressInfo } from 'net';
import puppeteer, { Browser } from 'puppeteer-core';
import { HttpServer } from '../../../src/server/http-server';
import { GeneratedFileView } from '../../../src/views/generated-file-view';
import { StaticDirectory } from '../../../src/views/view';

const quietLog = { info() {}, warn() {}, error() {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('web page in Chromium against hostile pages and names', function () {
  this.timeout(60_000);
  let server: HttpServer;
  let browser: Browser;
  let opened: string[] = [];
  const spoof = 'invoice\u202Etxt.exe'; // shows as "invoiceexe.txt" unless the override is made visible
  const markup = `<img src=x onerror="document.title='pwned'">"'.txt`;
  const accented = 'Über naïve.txt';

  before(async () => {
    const counted = (name: string) =>
      new GeneratedFileView(() => {
        opened.push(name);
        return `${name} bytes\n`;
      });
    const root = new StaticDirectory()
      .add('mapfile', counted('mapfile'))
      .add('sbx', new StaticDirectory().add('image.sbx', counted('image.sbx')))
      .add('rescued', new StaticDirectory().add('0123456789ab', new StaticDirectory().add(spoof, counted(spoof)).add(markup, counted(markup)).add(accented, counted(accented))));
    server = await HttpServer.listen(
      { host: '127.0.0.1', port: 0 },
      { root, statusText: () => JSON.stringify({ size: 1024, sectorSize: 512 }), stateKey: () => '', mapPng: () => Buffer.alloc(0), mapSvg: () => '<svg/>', badAreas: () => [], log: quietLog },
    );
    browser = await puppeteer.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it("another site's page (http://localhost:…) cannot have the browser open the mount's files on 127.0.0.1", async () => {
    const target = server.url;
    const evil = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><body>
        <img src="${target}sbx/image.sbx">
        <iframe src="${target}mapfile"></iframe>
        <script>
          fetch('${target}sbx/image.sbx', { mode: 'no-cors' }).catch(() => {});
          fetch('${target}mapfile', { mode: 'no-cors', cache: 'no-store' }).catch(() => {});
          const s = document.createElement('script'); s.src = '${target}status.json'; document.body.append(s);
        </script></body>`);
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', () => r()));
    try {
      const page = await browser.newPage();
      await page.goto(`http://localhost:${(evil.address() as AddressInfo).port}/`, { waitUntil: 'load', timeout: 20_000 });
      await sleep(1500); // the fetches and the script it started
      expect(opened).to.deep.equal([]);
      // A link elsewhere to the page itself still opens it (a top-level navigation).
      await page.goto(target, { waitUntil: 'load', referer: 'http://localhost/' });
      expect(await page.title()).to.equal('blkfs rescue');
      await page.close();
    } finally {
      evil.close();
    }
  });

  it('the page runs under its Content-Security-Policy with nothing of its own refused; a script that got into it would not run', async () => {
    const page = await browser.newPage();
    const refused: string[] = [];
    page.on('console', (m) => (/Content Security Policy/.test(m.text()) ? refused.push(m.text()) : undefined));
    await page.goto(server.url, { waitUntil: 'load' });
    await page.waitForFunction('document.querySelectorAll("#finds a").length === 3', { timeout: 10_000 }); // its script ran
    expect(await page.evaluate('getComputedStyle(document.body).backgroundColor')).to.equal('rgb(24, 24, 24)'); // its style applies
    expect(refused).to.deep.equal([]);
    // Markup that slipped past the text-only rule: an inline script and a handler attribute.
    await page.evaluate(`{ const s = document.createElement('script'); s.textContent = 'window.injected = 1'; document.body.append(s);
      document.body.insertAdjacentHTML('beforeend', '<img src="map.png" onload="window.injected = 2">'); }`);
    await sleep(300);
    expect(await page.evaluate('window.injected')).to.equal(undefined);
    expect(refused.length).to.be.at.least(1);
    await page.close();
  });

  it('a rescued file name with a right-to-left override is shown with the override visible, and downloads under its own name', async () => {
    opened = [];
    const page = await browser.newPage();
    await page.goto(server.url, { waitUntil: 'load', timeout: 20_000 });
    await page.waitForFunction('document.body.dataset.version !== undefined', { timeout: 10_000 });
    const shown = (await page.evaluate('[...document.querySelectorAll("#finds a")].map((a) => a.textContent)')) as string[];
    expect(shown).to.deep.equal(['0123456789ab/invoice<U+202E>txt.exe', `0123456789ab/${markup}`, `0123456789ab/${accented}`]);
    expect(await page.title(), 'a name is text, never markup').to.equal('blkfs rescue');
    // The page's own link is same-origin: the download is served.
    const r = (await page.evaluate(`fetch(document.querySelector("#finds a").href).then(r => r.text())`)) as string;
    expect(r).to.equal(`${spoof} bytes\n`);
    await page.close();
  });

  it('a download from the page keeps its non-ASCII name', async () => {
    const into = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-page-dl-'));
    try {
      const page = await browser.newPage();
      const cdp = await page.createCDPSession();
      await cdp.send('Page.setDownloadBehavior', { behavior: 'allow', downloadPath: into });
      await page.goto(server.url, { waitUntil: 'load', timeout: 20_000 });
      await page.waitForFunction('document.querySelectorAll("#finds a").length === 3', { timeout: 10_000 });
      await page.evaluate('document.querySelectorAll("#finds a")[2].click()');
      for (let i = 0; i < 100 && !fs.readdirSync(into).includes(accented); i++) await sleep(100);
      expect(fs.readdirSync(into)).to.deep.equal([accented]);
      expect(fs.readFileSync(path.join(into, accented), 'utf8')).to.equal(`${accented} bytes\n`);
      await page.close();
    } finally {
      fs.rmSync(into, { recursive: true, force: true });
    }
  });
});
