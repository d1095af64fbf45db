import { expect } from 'chai';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openCache } from '../../../src/cache/cache-open';
import { StateStore } from '../../../src/cache/state-store';
import { MemorySource, patternBuffer } from '../../helpers/memory-source';
import { CRASH_BAD_SECTORS, CRASH_MEDIUM_SIZE, CRASH_SEED } from './fixtures/crash-child';

const SS = 512;
const N = CRASH_MEDIUM_SIZE / SS;

/** Sectors recorded '+' in the cache directory, and a check that each one holds the medium's bytes. */
function plusSectorsVerified(dir: string, img: Buffer): Set<number> {
  const store = StateStore.open(path.join(dir, 'state.sqlite'), dir);
  try {
    const plus = new Set<number>();
    if (!store.identity()) return plus;
    const data = fs.readFileSync(path.join(dir, 'data.img'));
    for (const e of store.loadSectorMap(N).extents()) {
      if (e.status !== '+') continue;
      const a = e.start * SS;
      const b = (e.start + e.count) * SS;
      expect(data.subarray(a, b).equals(img.subarray(a, b)), `'+' sectors ${e.start}+${e.count} hold wrong bytes`).to.equal(true);
      for (let s = e.start; s < e.start + e.count; s++) plus.add(s);
    }
    return plus;
  } finally {
    store.close();
  }
}

async function runAndKill(child: string, dir: string, logFile: string, seed: number, killAfterMs: number): Promise<void> {
  fs.writeFileSync(logFile, '');
  const p = spawn(process.execPath, [child, dir, logFile, String(seed)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((r) => p.on('exit', () => r()));
  const t0 = Date.now();
  while (!fs.readFileSync(logFile, 'utf8').includes('OPENED')) {
    if (p.exitCode !== null) throw new Error(`child exited early: ${stderr}`);
    if (Date.now() - t0 > 20_000) throw new Error('child did not open the cache');
    await new Promise((r) => setTimeout(r, 5));
  }
  await new Promise((r) => setTimeout(r, killAfterMs));
  p.kill('SIGKILL');
  await exited;
  expect(stderr, 'child failed before the kill').to.equal('');
}

describe('cache crash safety (kill -9 of a reading, acquiring process)', () => {
  let tmp: string;
  beforeEach(() => (tmp = fs.mkdtempSync(os.tmpdir() + '/blkfs-crash-')));
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  // Readers are answered before their sectors' group commit: sectors whose commit was not durable at the kill are
  // untried again after it (never recorded, so reading them again is allowed); no '+' may hold wrong bytes.
  it('after each SIGKILL every "+" sector holds the medium bytes, and nothing "+" is read again', async () => {
    const img = patternBuffer(CRASH_MEDIUM_SIZE, CRASH_SEED);
    const child = path.join(__dirname, 'fixtures', 'crash-child.js');
    const dir = path.join(tmp, 'cache');
    const logFile = path.join(tmp, 'reads.log');
    let plus = new Set<number>();
    let killSeed = 99;
    for (let round = 1; round <= 6; round++) {
      killSeed = (killSeed * 1103515245 + 12345) & 0x7fffffff;
      await runAndKill(child, dir, logFile, round, 30 + (killSeed % 250));
      const log = fs.readFileSync(logFile, 'utf8').split('\n');
      const after = log.slice(log.indexOf('OPENED') + 1).filter(Boolean);
      for (const line of after) {
        const [o, l] = line.split(' ').map(Number);
        for (let s = Math.floor(o / SS); s < Math.ceil((o + l) / SS); s++) {
          expect(plus.has(s), `round ${round}: sector ${s} was '+' before the run but read again`).to.equal(false);
        }
      }
      const now = plusSectorsVerified(dir, img);
      for (const s of plus) expect(now.has(s), `sector ${s} lost its '+'`).to.equal(true);
      plus = now;
    }
    expect(plus.size).to.be.greaterThan(128);
    // and the acquisition completes after the crashes
    const src = new MemorySource(img, { badSectors: CRASH_BAD_SECTORS });
    const dev = await openCache({ source: src, cacheDir: dir });
    try {
      const r = await dev.acquire();
      expect(r.bytesCached).to.equal(CRASH_MEDIUM_SIZE - CRASH_BAD_SECTORS.length * SS);
      for (const s of plus) expect(src.readsOfSector(s) <= (s < 128 ? 1 : 0), `sector ${s} re-read`).to.equal(true);
    } finally {
      await dev.close();
    }
    plusSectorsVerified(dir, img);
  });
});
