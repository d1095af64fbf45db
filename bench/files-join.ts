// Prints figures (not a test): the file report's join on a DVD-sized medium (4.7 GB, 2048-byte sectors) with
// 10,000 files (1–4 runs each) and 10,000 bad extents — full join, update after new reads, JSON render —
// against the live sector map and against a mapfile; then The Sleuth Kit's layout time on a real ext4 with
// 10,000 files (tsk_loaddb), the step before the join.
// Run: npx tsc -p . && node dist/bench/files-join.js
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SectorMap } from '../src/cache/extent-map';
import { MapBlock } from '../src/cache/mapfile';
import { changedRanges, extentsDamage, MapfileDamage, SectorMapDamage } from '../src/files/damage-source';
import { FileReport } from '../src/files/file-report';
import type { LayoutEntry, MediumLayout } from '../src/files/layout';
import { readMediumLayout } from '../src/files/tsk-loaddb';
import { msSince as ms, seededRandom } from './lib/bench-helpers';

const SS = 2048;
const SIZE = 4_700_000_000 - (4_700_000_000 % SS);
const SECTORS = SIZE / SS;
const FILES = 10_000;
const BAD = 10_000;

const rand = seededRandom(12345);

function syntheticLayout(): MediumLayout {
  const entries: LayoutEntry[] = [];
  const dirs = 100;
  for (let d = 0; d < dirs; d++) entries.push({ fs: 0, path: `/d${d}`, kind: 'directory', size: SS, runs: [(16 + d) * SS, SS] });
  // Files share the rest of the medium in order, each cut into 1–4 runs with gaps between them.
  const per = Math.floor((SECTORS - 200) / FILES);
  for (let f = 0; f < FILES; f++) {
    const base = (200 + f * per) * SS;
    const pieces = 1 + rand(4);
    const runs: number[] = [];
    let size = 0;
    const span = Math.floor((per * SS) / pieces);
    for (let k = 0; k < pieces; k++) {
      const len = span - SS - rand(SS);
      runs.push(base + k * span, len);
      size += len;
    }
    entries.push({ fs: 0, path: `/d${f % dirs}/file${f}.vob`, kind: 'file', size, runs });
  }
  return { filesystems: [{ offset: 0, type: 'ISO9660', blockSize: SS, size: SIZE }], free: [[]], problems: [], entries };
}

function badExtents(): [number, number][] {
  const out: [number, number][] = [];
  // One per stretch of the medium, at a random place in it: 10,000 separate extents.
  const stretch = Math.floor((SECTORS - 300) / BAD);
  for (let i = 0; i < BAD; i++) out.push([200 + i * stretch + rand(stretch - 17), 1 + rand(16)]);
  return out;
}

async function tskLayoutFigure(): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-bench-files-'));
  try {
    const src = path.join(dir, 'src');
    for (let d = 0; d < 100; d++) {
      fs.mkdirSync(path.join(src, `d${d}`), { recursive: true });
      for (let f = 0; f < 100; f++) fs.writeFileSync(path.join(src, `d${d}`, `f${f}.bin`), Buffer.alloc(2000 + f, d));
    }
    const img = path.join(dir, 'ext4.img');
    execFileSync('mkfs.ext4', ['-q', '-N', '12000', '-d', src, img, '128M']);
    const t0 = process.hrtime.bigint();
    const layout = await readMediumLayout(img);
    const t = ms(t0);
    return `${t.toFixed(0)} ms for ${layout.entries.filter((e) => e.kind === 'file').length} files (tsk_loaddb + reading its database, 128 MiB ext4)`;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const layout = syntheticLayout();
  const bad = badExtents();
  const map = new SectorMap(SECTORS, '+');
  for (const [s, n] of bad) map.set(s, n, '-');
  const blocks: MapBlock[] = map.extents().map((r) => ({ pos: r.start * SS, size: r.count * SS, status: r.status }));
  console.log(`medium ${SIZE} bytes (${SS}-byte sectors), ${FILES} files, ${bad.length} bad extents (${map.runCount} runs in the sector map)`);

  let t0 = process.hrtime.bigint();
  const live = new FileReport(layout, new SectorMapDamage(map, SS, SIZE));
  const joinLive = ms(t0);
  const s = live.summary();
  console.log(`full join, live sector map: ${joinLive.toFixed(1)} ms  (${s.damaged} damaged, ${s.intact} intact)`);

  t0 = process.hrtime.bigint();
  const damage = new MapfileDamage(blocks, SIZE);
  const offline = new FileReport(layout, damage);
  console.log(`full join, mapfile: ${ms(t0).toFixed(1)} ms  (${offline.summary().damaged} damaged)`);

  // New reads land: a retry pass recovers bad extents one at a time, each followed by an update.
  const updates = 1000;
  let total = 0;
  for (let i = 0; i < updates; i++) {
    const [st, n] = bad[rand(bad.length)];
    map.set(st, n, '+');
    t0 = process.hrtime.bigint();
    live.update([{ start: st * SS, end: (st + n) * SS }]);
    total += ms(t0);
  }
  console.log(`update after a read lands: ${((total / updates) * 1000).toFixed(1)} µs each (mean of ${updates}), ${(total / updates / joinLive * 100).toFixed(3)} % of a full join`);

  // What the mount does on each look at /files.json after reads landed: diff the sector-map snapshots, rebuild
  // the damage index, update the touched files.
  let before = map.extents();
  let look = 0;
  const looks = 200;
  for (let i = 0; i < looks; i++) {
    const [st, n] = bad[rand(bad.length)];
    map.set(st, n, '+');
    t0 = process.hrtime.bigint();
    const now = map.extents();
    live.update(changedRanges(before, now, SS), extentsDamage(now, SS, SIZE));
    before = now;
    look += ms(t0);
  }
  console.log(`live look after a read lands (snapshot diff + damage index + update): ${(look / looks).toFixed(2)} ms each (mean of ${looks})`);

  t0 = process.hrtime.bigint();
  const json = JSON.stringify(live.toJSON());
  console.log(`render /files.json: ${ms(t0).toFixed(1)} ms (${json.length} bytes)`);

  console.log(`layout by The Sleuth Kit: ${await tskLayoutFigure()}`);
}

void main();
