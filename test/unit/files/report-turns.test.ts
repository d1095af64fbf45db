// A mount server's event loop serves every FUSE read of the mount: the file report of a large disk (a million
// files) must not hold it while the layout is read, joined, looked at or rendered. Each step leaves turns to the
// loop: a callback queued meanwhile (as a FUSE request's is) runs before the step ends. (How long each stretch
// lasts is measured by bench/files-event-loop.sh, not asserted.)
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { extentsDamage } from '../../../src/files/damage-source';
import { FileReport } from '../../../src/files/file-report';
import type { MediumLayout } from '../../../src/files/layout';
import { LiveFileReport } from '../../../src/files/live-report';
import { renderInTurns } from '../../../src/files/report-render';
import { readLayoutDb } from '../../../src/files/tsk-loaddb';
import { fileReportView } from '../../../src/views/files-views';
import { closeMemoryCaches, memoryCache } from '../../helpers/memory-cache';
import { writeTskDatabase } from '../../helpers/tsk-database';

const SS = 512;
const ENTRIES = 12_000;

/** How many times a callback queued before `work` started got to run before it ended. */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ result: T; turns: number }> {
  let turns = 0;
  let done = false;
  const turn = () => {
    turns++;
    if (!done) setImmediate(turn);
  };
  setImmediate(turn);
  try {
    return { result: await work(), turns };
  } finally {
    done = true;
  }
}

/** ENTRIES files of 2 sectors each, one after another on a medium with room for them. */
function largeLayout(): MediumLayout {
  const entries: MediumLayout['entries'] = [{ fs: 0, path: '/', kind: 'directory', size: SS, runs: [0, SS] }];
  for (let i = 1; i < ENTRIES; i++) entries.push({ fs: 0, path: `/f${i}`, kind: 'file', size: 2 * SS, runs: [2 * i * SS, 2 * SS] });
  return { filesystems: [{ offset: 0, type: 'ext4', blockSize: 1024, size: 2 * ENTRIES * SS }], free: [[]], problems: [], entries };
}

describe('files: the report of a large disk leaves turns to the event loop', () => {
  afterEach(closeMemoryCaches);

  it('reading a tsk_loaddb database of 3,000 files', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-test-'));
    try {
      const db = path.join(dir, 'layout.db');
      writeTskDatabase(db, 3_000, 3);
      const { result: layout, turns } = await turnsDuring(() => readLayoutDb(db));
      expect(turns).to.be.greaterThan(0);
      expect(layout.entries.filter((e) => e.kind === 'file')).to.have.length(3_000);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('joining and looking at a layout of 12,000 entries, with the same report as joined at once', async () => {
    const mem = await memoryCache(Buffer.alloc(2 * ENTRIES * SS));
    await mem.cache.read(0, 1000 * SS); // some read, the rest untried
    await mem.cache.commitPending(); // '+' once durable
    const live = new LiveFileReport(mem.cache, '/nowhere/raw', () => {}, async () => largeLayout());
    const { result: report, turns } = await turnsDuring(() => live.json());
    expect(turns).to.be.greaterThan(0);
    expect(report.summary).to.include({ files: ENTRIES - 1, intact: 499, incomplete: ENTRIES - 500 });
    const atOnce = new FileReport(largeLayout(), extentsDamage(mem.cache.extents(), SS, mem.cache.size));
    expect(JSON.stringify(report)).to.equal(JSON.stringify(atOnce.toJSON()));
  });

  it('rendering /files.txt, /files.csv and /files.json of 12,000 entries', async () => {
    const mem = await memoryCache(Buffer.alloc(2 * ENTRIES * SS));
    const live = new LiveFileReport(mem.cache, '/nowhere/raw', () => {}, async () => largeLayout());
    const report = await live.json();
    for (const format of ['txt', 'csv', 'json'] as const) {
      const { turns } = await turnsDuring(() => renderInTurns(format, report));
      expect(turns, format).to.be.greaterThan(0);
    }
    const view = fileReportView('json', live);
    const handle = await view.open();
    expect((handle as Buffer).toString()).to.equal(JSON.stringify(report, null, 1) + '\n');
  });
});
