// The map picture of a badly damaged medium takes ~100 ms of the event loop that also serves FUSE (bench/map-render.sh),
// and every open page fetches it again on each change (up to twice a second). So the page's renders are shared:
// one per state of the rescue, however many tabs or clients ask.
import { expect } from 'chai';
import * as http from 'http';
import { HttpServer } from '../../../src/server/http-server';
import { StaticDirectory } from '../../../src/views/view';

const quietLog = { info() {}, warn() {}, error() {} };

function get(url: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c)).on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      })
      .on('error', reject);
  });
}

describe('web page: renders shared between clients', () => {
  it('map.png, map.svg, bad-areas.json and status.json are rendered once per state of the rescue, not once per request', async () => {
    let state = 'a';
    const renders = { png: 0, svg: 0, bad: 0, status: 0 };
    const server = await HttpServer.listen(
      { host: '127.0.0.1', port: 0 },
      {
        root: new StaticDirectory(),
        statusText: () => (renders.status++, JSON.stringify({ state })),
        stateKey: () => state,
        mapPng: () => (renders.png++, Buffer.from(`png of ${state}`)),
        mapSvg: () => (renders.svg++, `<svg>${state}</svg>`),
        badAreas: () => (renders.bad++, [{ pos: state.length, size: 512 }]),
        log: quietLog,
      },
    );
    try {
      const all = (p: string) => Promise.all(Array.from({ length: 10 }, (_, i) => get(`${server.url}${p}?v=${i}`)));
      for (const p of ['map.png', 'map.svg', 'bad-areas.json', 'status.json']) for (const r of await all(p)) expect(r.status, p).to.equal(200);
      expect(renders).to.deep.equal({ png: 1, svg: 1, bad: 1, status: 1 });
      state = 'bb'; // a read landed
      expect((await get(`${server.url}map.png`)).body.toString()).to.equal('png of bb');
      expect(JSON.parse((await get(`${server.url}bad-areas.json`)).body.toString())).to.deep.equal([{ pos: 2, size: 512 }]);
      expect(JSON.parse((await get(`${server.url}status.json`)).body.toString())).to.deep.equal({ state: 'bb' });
      expect(renders).to.deep.equal({ png: 2, svg: 1, bad: 2, status: 2 });
      // The status also shows rates, which drift within a state: a render is at most a second old.
      await new Promise((r) => setTimeout(r, 1100));
      await get(`${server.url}status.json`);
      expect(renders.status).to.equal(3);
    } finally {
      await server.close();
    }
  });
});
