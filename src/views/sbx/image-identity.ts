// The fixed metadata of /sbx/image.sbx for one medium: UID, FNM, SNM, FDT and SDT are chosen at the first
// mount and kept in the cache database, so the container is byte-identical every time it is read, across
// remounts (blkar picks a random UID and the current time on every encode; an archive copy made twice must
// not differ).
import { randomBytes } from 'crypto';
import type Database from 'better-sqlite3';
import { parseUidHex, uidToHex } from '../../sbx/format/header';

export interface ImageIdentity {
  uid: Buffer;
  /** FNM: the name `blkfs sbx decode` gives the decoded image. */
  fnm: string;
  /** SNM: the container's own name. */
  snm: string;
  /** FDT and SDT, Unix seconds (the first mount). */
  fdt: number;
  sdt: number;
}

export const IMAGE_CONTAINER_NAME = 'image.sbx';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sbx_image_identity (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  uid TEXT NOT NULL,
  fnm TEXT NOT NULL,
  snm TEXT NOT NULL,
  fdt INTEGER NOT NULL,
  sdt INTEGER NOT NULL
);
`;

/** The name a decoded image gets: the source's own file name, or "<device>.img" for a device or NBD export. */
export function defaultImageName(source: string): string {
  const base = source.replace(/[?#].*$/, '').split('/').filter((s) => s !== '' && !s.includes(':')).pop() ?? '';
  if (base === '') return 'medium.img';
  return source.startsWith('/dev/') || /^nbd/.test(source) || !base.includes('.') ? `${base}.img` : base;
}

/** Loads the identity stored for this medium, or creates and stores it (first mount). */
export function loadOrCreateIdentity(
  db: Database.Database,
  fresh: () => { fnm: string; now?: number; uid?: Buffer },
): ImageIdentity {
  db.exec(SCHEMA);
  const row = db.prepare('SELECT uid, fnm, snm, fdt, sdt FROM sbx_image_identity WHERE id = 1').get() as
    | { uid: string; fnm: string; snm: string; fdt: number; sdt: number }
    | undefined;
  if (row) {
    const uid = parseUidHex(row.uid);
    if (!uid) throw new Error(`the cache database holds a malformed SBX UID ${JSON.stringify(row.uid)}`);
    return { uid, fnm: row.fnm, snm: row.snm, fdt: row.fdt, sdt: row.sdt };
  }
  const f = fresh();
  const now = f.now ?? Math.floor(Date.now() / 1000);
  const id: ImageIdentity = { uid: f.uid ?? randomBytes(6), fnm: f.fnm, snm: IMAGE_CONTAINER_NAME, fdt: now, sdt: now };
  db.prepare('INSERT INTO sbx_image_identity (id, uid, fnm, snm, fdt, sdt) VALUES (1, ?, ?, ?, ?, ?)').run(
    uidToHex(id.uid),
    id.fnm,
    id.snm,
    id.fdt,
    id.sdt,
  );
  return id;
}
