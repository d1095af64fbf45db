// A badly fragmented filesystem: a file in 300,000 pieces, free space in 300,000 pieces between them. Every run
// must come through to the report. (Spreading such an array into a call, `push(...runs)`, overflows the stack from
// about 125,000 elements: RangeError, and no files report at all.)
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Database from 'better-sqlite3';
import { readLayoutDb } from '../../../src/files/tsk-loaddb';
import { createTskTables } from '../../helpers/tsk-database';

const BLOCK = 4096;
const PIECES = 300_000;
const FIRST = 1024; // block of the first piece: past the ext4 structures

/** The file's runs (absolute: the filesystem starts at byte 0): every other block from FIRST. */
const fileRuns = (): number[] => Array.from({ length: PIECES }, (_, k) => [(FIRST + 2 * k) * BLOCK, BLOCK]).flat();
/** The free space: the blocks between the file's. */
const freeRuns = (): number[] => Array.from({ length: PIECES }, (_, k) => [(FIRST + 2 * k + 1) * BLOCK, BLOCK]).flat();

/**
 * An ext4 holding /big.bin, its runs on its "-slack" row as tsk_loaddb 4.11 writes an ext4 file, and its free space
 * in one Unalloc row, as TSK writes a chunk of unallocated space when asked for chunks (TskAutoDb's minimum chunk
 * size: Autopsy asks for 500 MB). tsk_loaddb itself writes one row per free piece, each of one run.
 */
function writeFragmentedDb(dbPath: string): void {
  const db = new Database(dbPath);
  createTskTables(db);
  const file = db.prepare('INSERT INTO tsk_files VALUES (?, 2, ?, ?, ?, ?, 1, ?, ?, ?)'); // obj, attr, name, meta_addr, type, dir_flags, size, parent
  const run = db.prepare('INSERT INTO tsk_file_layout VALUES (?, ?, ?, ?)');
  db.transaction(() => {
    db.prepare('INSERT INTO tsk_objects VALUES (1, NULL, 0), (2, 1, 0)').run();
    db.prepare('INSERT INTO tsk_fs_info VALUES (2, 0, 8192, ?, ?)').run(BLOCK, FIRST + 2 * PIECES); // 0x2000: ext4
    file.run(3, 1, 'big.bin', 12, 0, 1, PIECES * BLOCK, '/');
    file.run(4, 1, 'big.bin-slack', 12, 7, 1, PIECES * BLOCK, '/');
    const runs = fileRuns();
    for (let i = 0; i < runs.length; i += 2) run.run(4, runs[i], runs[i + 1], i / 2);
    const free = freeRuns();
    file.run(5, null, `Unalloc_1_${free[0]}_${free[free.length - 2] + BLOCK}`, null, 4, 2, PIECES * BLOCK, null);
    for (let i = 0; i < free.length; i += 2) run.run(5, free[i], free[i + 1], i / 2);
  })();
  db.close();
}

describe('files: the layout of a badly fragmented filesystem is read whole', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-test-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it(`a file of ${PIECES} runs, and free space in as many pieces`, async () => {
    const db = path.join(dir, 'layout.db');
    writeFragmentedDb(db);
    const layout = await readLayoutDb(db);
    const big = layout.entries.find((e) => e.path === '/big.bin');
    expect(big?.runs).to.deep.equal(fileRuns());
    expect(layout.free).to.deep.equal([freeRuns()]);
  });
});
