// A tsk_loaddb database made without TSK, of any size: the tables and columns readLayoutDb reads, as tsk_loaddb 4.11
// writes them for an ext4 (each file's runs on its "<name>-slack" row; filesystem-relative offsets, 4 KiB blocks).
import Database from 'better-sqlite3';
import { seededInts } from './seeded-random';

const BLOCK = 4096;

/** The tables and columns readLayoutDb reads (a subset of what tsk_loaddb 4.11 creates). */
export function createTskTables(db: Database.Database): void {
  db.exec(`
    CREATE TABLE tsk_objects (obj_id INTEGER PRIMARY KEY, par_obj_id INTEGER, type INTEGER NOT NULL);
    CREATE TABLE tsk_vs_info (obj_id INTEGER PRIMARY KEY, vs_type INTEGER NOT NULL, img_offset INTEGER NOT NULL, block_size INTEGER NOT NULL);
    CREATE TABLE tsk_vs_parts (obj_id INTEGER PRIMARY KEY, addr INTEGER NOT NULL, start INTEGER NOT NULL, length INTEGER NOT NULL, desc TEXT, flags INTEGER NOT NULL);
    CREATE TABLE tsk_fs_info (obj_id INTEGER PRIMARY KEY, img_offset INTEGER NOT NULL, fs_type INTEGER NOT NULL, block_size INTEGER NOT NULL, block_count INTEGER NOT NULL);
    CREATE TABLE tsk_files (obj_id INTEGER PRIMARY KEY, fs_obj_id INTEGER, attr_type INTEGER, name TEXT NOT NULL, meta_addr INTEGER, type INTEGER, meta_type INTEGER, dir_flags INTEGER, size INTEGER, parent_path TEXT);
    CREATE TABLE tsk_file_layout (obj_id INTEGER NOT NULL, byte_start INTEGER NOT NULL, byte_len INTEGER NOT NULL, sequence INTEGER NOT NULL);
    CREATE INDEX layout_objID ON tsk_file_layout(obj_id);
  `);
}

/** `files` regular files of 1 byte to 256 KiB (1-3 runs each) spread over `dirs` directories under the root. */
export function writeTskDatabase(dbPath: string, files: number, dirs: number, mediumSize = 1024 ** 4): void {
  const below = seededInts(files);
  const db = new Database(dbPath);
  createTskTables(db);
  const object = db.prepare('INSERT INTO tsk_objects VALUES (?, ?, 0)');
  // (obj_id, name, meta_addr, type, meta_type, size, parent_path) on filesystem 2, allocated, default attribute.
  const file = db.prepare('INSERT INTO tsk_files VALUES (?, 2, 1, ?, ?, ?, ?, 1, ?, ?)');
  const run = db.prepare('INSERT INTO tsk_file_layout VALUES (?, ?, ?, ?)');
  db.transaction(() => {
    object.run(1, null);
    object.run(2, 1);
    db.prepare('INSERT INTO tsk_fs_info VALUES (2, 0, 8192, ?, ?)').run(BLOCK, Math.floor(mediumSize / BLOCK)); // 0x2000: ext4
    let id = 3;
    let inode = 2;
    let at = 1024 * 1024;
    const place = (objId: number, bytes: number) => {
      const pieces = 1 + below(3);
      const per = Math.ceil(bytes / BLOCK / pieces) * BLOCK;
      for (let k = 0; k < pieces; k++) {
        run.run(objId, at, per, k);
        at += per + BLOCK * below(4);
      }
    };
    for (let d = 0; d < dirs; d++) {
      file.run(id, `d${d}`, inode++, 0, 2, BLOCK, '/');
      place(id++, BLOCK);
    }
    for (let f = 0; f < files; f++) {
      const size = 1 + below(256 * 1024);
      const [name, parent] = [`file${f}.jpg`, `/d${f % dirs}/`];
      file.run(id++, name, inode, 0, 1, size, parent);
      file.run(id, `${name}-slack`, inode++, 7, 1, size, parent);
      place(id++, size);
    }
  })();
  db.close();
}
