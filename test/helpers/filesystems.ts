// Real filesystems for the file-report tests, built by the real tools (mkfs.ext4 -d, mkfs.vfat + mcopy,
// genisoimage, an MBR written byte by byte). Files hold random bytes, so a test finds where a file's data
// lies by searching the image for its content — independently of The Sleuth Kit, whose answer is under test.
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

/** path inside the filesystem → content. */
export type Tree = Record<string, Buffer>;

/** A tree with random contents of the given sizes; a fixed seed keeps every run alike. */
export function randomTree(sizes: Record<string, number>, seed = 'blkfs-files'): Tree {
  const tree: Tree = {};
  for (const [p, n] of Object.entries(sizes)) {
    const out = Buffer.alloc(n);
    for (let at = 0, k = 0; at < n; at += 32, k++) {
      crypto.createHash('sha256').update(`${seed}:${p}:${k}`).digest().copy(out, at);
    }
    tree[p] = out;
  }
  return tree;
}

function writeTree(dir: string, tree: Tree): void {
  for (const [p, data] of Object.entries(tree)) {
    const full = path.join(dir, p);
    fs.mkdirSync(path.dirname(full), { recursive: true });
    fs.writeFileSync(full, data);
  }
}

export function ext4Image(workDir: string, name: string, tree: Tree, size = '16M'): string {
  const src = fs.mkdtempSync(path.join(workDir, `${name}-src-`));
  writeTree(src, tree);
  const img = path.join(workDir, `${name}.img`);
  // No journal: a 16 MiB image then keeps its free space free of it; fixed UUID and time for repeatability.
  execFileSync('mkfs.ext4', ['-q', '-F', '-O', '^has_journal', '-E', 'root_owner=0:0', '-d', src, img, size], {
    env: { ...process.env, E2FSPROGS_FAKE_TIME: '1700000000' },
  });
  return img;
}

export function fatImage(workDir: string, name: string, tree: Tree, kib = 8192, mkfsOptions: string[] = []): string {
  const src = fs.mkdtempSync(path.join(workDir, `${name}-src-`));
  writeTree(src, tree);
  const img = path.join(workDir, `${name}.img`);
  execFileSync('mkfs.vfat', [...mkfsOptions, '-C', img, String(kib)], { stdio: 'ignore' });
  for (const top of fs.readdirSync(src)) execFileSync('mcopy', ['-s', '-i', img, path.join(src, top), '::/']);
  return img;
}

/** NTFS (mkntfs from ntfs-3g), files copied in with ntfscp (top-level names only). */
export function ntfsImage(workDir: string, name: string, files: Record<string, Buffer>, bytes = 16 << 20): string {
  const img = path.join(workDir, `${name}.img`);
  fs.writeFileSync(img, Buffer.alloc(0));
  fs.truncateSync(img, bytes);
  execFileSync('mkntfs', ['-q', '-F', '-f', img], { stdio: 'ignore' });
  for (const [p, data] of Object.entries(files)) {
    const src = path.join(workDir, `${name}-${p}`);
    fs.writeFileSync(src, data);
    execFileSync('ntfscp', ['-q', img, src, p], { stdio: 'ignore' });
  }
  return img;
}

/** Where MFT record `inode` of an NTFS image lies, by the on-disk format ("FILE" magic, record number at 0x2c). */
export function ntfsMftRecord(image: Buffer, inode: number): number {
  for (let off = 0; off < image.length; off += 1024) {
    if (image.toString('latin1', off, off + 4) === 'FILE' && image.readUInt32LE(off + 0x2c) === inode) return off;
  }
  throw new Error(`MFT record ${inode} not found`);
}

export function isoImage(workDir: string, name: string, tree: Tree): string {
  const src = fs.mkdtempSync(path.join(workDir, `${name}-src-`));
  writeTree(src, tree);
  const img = path.join(workDir, `${name}.img`);
  execFileSync('genisoimage', ['-quiet', '-R', '-J', '-o', img, src]);
  return img;
}

export interface MbrPartition {
  type: number;
  /** Start and length in 512-byte sectors. */
  start: number;
  image: string;
}

/** An MBR-partitioned medium: the table written byte by byte, each partition's filesystem copied in place. */
export function mbrImage(workDir: string, name: string, parts: MbrPartition[], totalBytes: number): string {
  const out = Buffer.alloc(totalBytes);
  parts.forEach((p, i) => {
    const fsBytes = fs.readFileSync(p.image);
    const sectors = Math.ceil(fsBytes.length / 512);
    const e = 446 + 16 * i;
    out[e + 4] = p.type;
    out.writeUInt32LE(p.start, e + 8);
    out.writeUInt32LE(sectors, e + 12);
    fsBytes.copy(out, p.start * 512);
  });
  out[510] = 0x55;
  out[511] = 0xaa;
  const img = path.join(workDir, `${name}.img`);
  fs.writeFileSync(img, out);
  return img;
}

/** Where `content` lies in the image (it must be there exactly once, contiguous). */
export function offsetOf(image: Buffer, content: Buffer, from = 0): number {
  const at = image.indexOf(content, from);
  if (at < 0) throw new Error('content not found in the image');
  if (image.indexOf(content, at + 1) >= 0) throw new Error('content found twice in the image');
  return at;
}
