// Prints figures (not a test): a sparse 2 TB medium with 100,000 bad extents through the real cache code —
// SectorMap operation speed, state database size, mapfile render time, reopen time, RSS.
// Run: npx tsc -p . && node dist/bench/cache-map.js
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openCache } from '../src/cache/cache-open';
import { SectorMap } from '../src/cache/extent-map';
import { BlockSource, SourceStats } from '../src/source/block-source';

const SIZE = 2 * 1000 ** 4; // 2 TB
const SS = 512;
const BAD_EXTENTS = 100_000;

/** A 2 TB medium that answers every read with zeros (only the identity window is ever read here). */
class SyntheticSource implements BlockSource {
  readonly size = SIZE;
  readonly sectorSize = SS;
  async read(_offset: number, length: number): Promise<Buffer> {
    return Buffer.alloc(length, 0x5a);
  }
  stats(): SourceStats {
    return { reads: 0, bytes: 0, failedReads: 0 };
  }
  async close(): Promise<void> {}
}

function ms(t0: bigint): string {
  return (Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1) + ' ms';
}
const mb = (n: number) => (n / 1e6).toFixed(2) + ' MB';

async function main(): Promise<void> {
  const sectors = SIZE / SS;
  let seed = 1;
  const rnd = (n: number) => {
    // mulberry32: uniform enough to spread 100,000 extents over 4e9 sectors
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
  const bad: [number, number][] = [];
  for (let i = 0; i < BAD_EXTENTS; i++) bad.push([rnd(sectors - 64) + 200, 1 + rnd(16)]);

  // SectorMap alone
  let t0 = process.hrtime.bigint();
  const map = new SectorMap(sectors);
  for (const [s, c] of bad) map.set(s, c, '-');
  console.log(`SectorMap: ${BAD_EXTENTS} random set() on ${sectors} sectors: ${ms(t0)} (${map.runCount} runs)`);
  t0 = process.hrtime.bigint();
  let x = 0;
  for (let i = 0; i < 1_000_000; i++) x += map.runAt(rnd(sectors)).count;
  console.log(`SectorMap: 1,000,000 runAt() lookups: ${ms(t0)}${x < 0 ? '' : ''}`);
  t0 = process.hrtime.bigint();
  map.extents();
  console.log(`SectorMap: extents() snapshot: ${ms(t0)}`);

  // The real cache: 2 TB sparse data file, SQLite state, one group commit of 100,000 bad extents
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-bench-'));
  try {
    const src = new SyntheticSource();
    t0 = process.hrtime.bigint();
    let dev = await openCache({ source: src, cacheDir: dir });
    console.log(`CachedDevice.open (create, 2 TB sparse data file): ${ms(t0)}`);
    t0 = process.hrtime.bigint();
    await Promise.all(bad.map(([s, c]) => dev.mark(s, c, '-', '?')));
    console.log(`state: ${BAD_EXTENTS} bad extents recorded (one group commit): ${ms(t0)}`);
    t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: 1000 }, () => rnd(sectors - 8)).map((s) => dev.mark(s, 8, '+', '?')));
    console.log(`state: 1,000 more incremental changes in one commit: ${ms(t0)}`);
    t0 = process.hrtime.bigint();
    const text = dev.mapfileText();
    console.log(`mapfile render: ${ms(t0)} (${text.split('\n').length} lines, ${mb(text.length)})`);
    t0 = process.hrtime.bigint();
    dev.status();
    console.log(`status(): ${ms(t0)}`);
    await dev.close();
    const dbSize = ['state.sqlite', 'state.sqlite-wal'].reduce((n, f) => n + (fs.existsSync(path.join(dir, f)) ? fs.statSync(path.join(dir, f)).size : 0), 0);
    const dataBlocks = fs.statSync(path.join(dir, 'data.img')).blocks * 512;
    console.log(`state database: ${mb(dbSize)}; data file: ${(SIZE / 1e12).toFixed(1)} TB apparent, ${mb(dataBlocks)} allocated`);
    t0 = process.hrtime.bigint();
    dev = await openCache({ source: src, cacheDir: dir });
    console.log(`reopen (load ${dev.extents().length} runs, identity probe ${dev.status().identityProbe.bytes} B): ${ms(t0)}`);
    await dev.close();
    console.log(`RSS: ${mb(process.memoryUsage().rss)}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
