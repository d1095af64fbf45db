// Prints figures (not a test): how long each step of the live file report holds a mount server's event loop on a
// large disk — a synthetic tsk_loaddb database of FILES files (ext4-shaped: each file's runs on its "-slack" row,
// 1–3 runs) read by readLayoutDb, the join (FileReport.inTurns), a look (jsonInTurns) and each rendering: per step
// its time and its longest stretch without a turn of the loop (what a FUSE read arriving then waits).
// Run: npx tsc -p . && bash bench/files-event-loop.sh   (FILES=1000000 by default: ~2 min, ~3 GB of memory)
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SectorMap } from '../src/cache/extent-map';
import { extentsDamage } from '../src/files/damage-source';
import { FileReport } from '../src/files/file-report';
import { renderInTurns } from '../src/files/report-render';
import { readLayoutDb } from '../src/files/tsk-loaddb';
import { writeTskDatabase } from '../test/helpers/tsk-database';
import { msSince as ms, seededRandom } from './lib/bench-helpers';

const FILES = Number(process.argv[2] ?? 1_000_000);
const DIRS = Math.max(1, Math.floor(FILES / 1000));
const SS = 512;
const SIZE = 1024 ** 4; // 1 TiB
const rand = seededRandom(12345);

/** A sector map part read: the first half rescued with one bad extent every 100 MB, the rest untried. */
function sectorMap(): SectorMap {
  const sectors = SIZE / SS;
  const map = new SectorMap(sectors, '?');
  map.set(0, sectors / 2, '+');
  for (let s = 0; s < sectors / 2; s += 200_000) map.set(s + rand(100_000), 1 + rand(64), '-');
  return map;
}

/** Runs `work`, printing its time and the longest gap between two turns of the event loop meanwhile. */
async function step<T>(what: string, work: () => T | Promise<T>): Promise<T> {
  let last = process.hrtime.bigint();
  let longest = 0;
  let running = true;
  const tick = () => {
    const now = process.hrtime.bigint();
    longest = Math.max(longest, Number(now - last) / 1e6);
    last = now;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  const t0 = process.hrtime.bigint();
  const out = await work();
  const total = ms(t0);
  longest = Math.max(longest, ms(last));
  running = false;
  console.log(`${what}: ${total.toFixed(0)} ms, longest stretch ${longest.toFixed(0)} ms`);
  return out;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-bench-loop-'));
  try {
    const dbPath = path.join(dir, 'layout.db');
    console.log(`a tsk_loaddb database of ${FILES} files in ${DIRS} directories (made first, not timed)`);
    writeTskDatabase(dbPath, FILES, DIRS, SIZE);
    const layout = await step('readLayoutDb', () => readLayoutDb(dbPath));
    const map = sectorMap();
    const extents = map.extents();
    const damage = await step(`extentsDamage (${extents.length} extents)`, () => extentsDamage(extents, SS, SIZE));
    const report = await step(`FileReport.inTurns (${layout.entries.length} entries)`, () => FileReport.inTurns(layout, damage));
    await step('unreadableDirectoriesInTurns', () => report.unreadableDirectoriesInTurns());
    await step('summaryInTurns', () => report.summaryInTurns());
    await step('summary (/status, at once)', () => report.summary());
    const json = await step('jsonInTurns (a look)', () => report.jsonInTurns());
    for (const format of ['txt', 'csv', 'json'] as const) await step(`renderInTurns ${format}`, () => renderInTurns(format, json));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
