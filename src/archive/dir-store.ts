// A bag in a local directory: written under DEST/<bag>.partial/ (parts of data/image.sbx at their offsets, each
// made durable before it counts as stored), renamed to DEST/<bag>/ once complete. An existing DEST/<bag> is never
// touched.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { FileFixity } from './bagit';
import { BagStore, ImageFixity, PartRecord, StoreResume } from './bag-store';
import { pidLock } from './archive-state';
import { OperationError, UserError } from '../errors';
import { MAX_FS_CALL_BYTES, readUpTo } from '../cache/data-file';

export class BagVerifyError extends OperationError {
  constructor(message: string) {
    super(message);
    this.name = 'BagVerifyError';
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.promises.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class DirStore implements BagStore {
  readonly label: string;
  readonly wantsMd5 = false;
  private readonly partial: string;
  private image: fs.promises.FileHandle | undefined;
  private partSize = 0;
  private finished = false;
  private unlock: (() => void) | undefined;

  constructor(
    private readonly parent: string,
    bag: string,
    partSize: number,
  ) {
    this.label = path.join(parent, bag);
    this.partial = `${this.label}.partial`;
    this.partSize = partSize;
  }

  async bagExists(): Promise<boolean> {
    return fs.existsSync(this.label);
  }

  async openImage(size: number, saved: StoreResume | undefined): Promise<StoreResume> {
    // The resume state lives in each medium's cache: two media archived under one --name would otherwise write the
    // same half-written bag at once (and the later one into the other's finished bag, through its open file).
    if (!this.unlock) {
      await fs.promises.mkdir(this.parent, { recursive: true });
      const held = pidLock(`${this.partial}.lock`);
      if (typeof held === 'number') throw new UserError(`${this.label}: another blkfs archive (pid ${held}) is writing this bag`);
      this.unlock = held;
    }
    await fs.promises.mkdir(path.join(this.partial, 'data'), { recursive: true });
    const file = path.join(this.partial, 'data', 'image.sbx');
    await this.closeImage(); // a retry after a failed open: one handle, not one per attempt
    this.image = await fs.promises.open(file, fs.existsSync(file) ? 'r+' : 'w+');
    // A part recorded as stored counts only if the file still holds its bytes: the half-written bag may have been
    // changed since (another run with the same --name, a disk fault), and the manifest must describe what is there.
    const keep: StoreResume['parts'] = {};
    for (const [n, rec] of Object.entries(saved?.parts ?? {})) {
      if (await this.holds(rec)) keep[n] = rec;
    }
    await this.image.truncate(size);
    return { parts: keep };
  }

  private async holds(rec: PartRecord): Promise<boolean> {
    const bytes = await readUpTo(this.image!, (rec.n - 1) * this.partSize, rec.size);
    return bytes.length === rec.size && createHash('sha256').update(bytes).digest('hex') === rec.sha256;
  }

  async putPart(n: number, bytes: Buffer, _md5: Buffer, sha256: Buffer): Promise<PartRecord> {
    if (!this.image) throw new Error('openImage first');
    let done = 0;
    while (done < bytes.length) {
      const piece = Math.min(bytes.length - done, MAX_FS_CALL_BYTES);
      const { bytesWritten } = await this.image.write(bytes, done, piece, (n - 1) * this.partSize + done);
      done += bytesWritten;
    }
    await this.image.datasync();
    return { n, size: bytes.length, md5: '', sha256: sha256.toString('hex') };
  }

  async completeImage(): Promise<void> {
    await this.image?.sync();
    await this.closeImage();
  }

  /** The run has ended, however it ended: the image file is closed and the lock let go (the .partial stays for a rerun). */
  async close(): Promise<void> {
    try {
      await this.closeImage();
    } finally {
      this.unlock?.();
      this.unlock = undefined;
    }
  }

  private async closeImage(): Promise<void> {
    const fh = this.image;
    this.image = undefined;
    await fh?.close();
  }

  async putFile(relPath: string, bytes: Buffer): Promise<void> {
    const file = path.join(this.partial, relPath);
    const tmp = `${file}.tmp`;
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    const fh = await fs.promises.open(tmp, 'w');
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, file);
  }

  async finish(): Promise<void> {
    await fsyncDir(path.join(this.partial, 'data'));
    await fsyncDir(this.partial);
    if (fs.existsSync(this.label)) throw new OperationError(`${this.label} appeared while the bag was written; the new bag stays in ${this.partial}`);
    await fs.promises.rename(this.partial, this.label);
    this.finished = true;
    this.unlock?.();
    this.unlock = undefined;
    await fsyncDir(this.parent);
  }

  async verify(files: readonly FileFixity[], _image: ImageFixity): Promise<void> {
    await this.verifyIn(this.finished ? this.label : this.partial, files);
  }

  async verifyFinished(files: readonly FileFixity[], _image: ImageFixity): Promise<void> {
    await this.verifyIn(this.label, files);
  }

  async verifyOwnManifests(parts: readonly PartRecord[]): Promise<string> {
    const files: FileFixity[] = [];
    let imageSha = '';
    for (const m of ['manifest-sha256.txt', 'tagmanifest-sha256.txt']) {
      const text = await fs.promises.readFile(path.join(this.label, m), 'utf8').catch(() => {
        throw new BagVerifyError(`${path.join(this.label, m)}: missing from the bag`);
      });
      for (const line of text.split('\n').filter((l) => l !== '')) {
        const f = /^([0-9a-f]{64}) [ *]?(.+)$/.exec(line);
        const rel = f?.[2].replace(/%0A/gi, '\n').replace(/%0D/gi, '\r').replace(/%25/g, '%');
        if (!f || !rel || path.isAbsolute(rel) || rel.split('/').includes('..')) throw new BagVerifyError(`${path.join(this.label, m)}: not a manifest line: ${line}`);
        const st = await fs.promises.stat(path.join(this.label, rel)).catch(() => undefined);
        files.push({ path: rel, size: st?.size ?? -1, sha256: f[1] });
        if (rel === 'data/image.sbx') imageSha = f[1];
      }
    }
    if (imageSha === '') throw new BagVerifyError(`${this.label}/manifest-sha256.txt: does not list data/image.sbx`);
    // data/image.sbx must be this archive's container: every part as the resume state recorded it.
    const fh = await fs.promises.open(path.join(this.label, 'data', 'image.sbx'), 'r').catch(() => {
      throw new BagVerifyError(`${this.label}/data/image.sbx: missing from the bag`);
    });
    try {
      for (const rec of parts) {
        const bytes = await readUpTo(fh, (rec.n - 1) * this.partSize, rec.size);
        if (bytes.length !== rec.size || createHash('sha256').update(bytes).digest('hex') !== rec.sha256) {
          throw new BagVerifyError(`${this.label}/data/image.sbx: part ${rec.n} is not what this archive stored`);
        }
      }
      const size = (await fh.stat()).size;
      const end = parts.reduce((n, r) => Math.max(n, (r.n - 1) * this.partSize + r.size), 0);
      if (size !== end) throw new BagVerifyError(`${this.label}/data/image.sbx: ${size} bytes, this archive stored ${end}`);
    } finally {
      await fh.close();
    }
    await this.verifyIn(this.label, files);
    return imageSha;
  }

  private async verifyIn(dir: string, files: readonly FileFixity[]): Promise<void> {
    for (const f of files) {
      const p = path.join(dir, f.path);
      const h = createHash('sha256');
      let size = 0;
      try {
        for await (const chunk of fs.createReadStream(p, { highWaterMark: 1 << 20 })) {
          h.update(chunk as Buffer);
          size += (chunk as Buffer).length;
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new BagVerifyError(`${p}: missing from the bag`);
        throw err;
      }
      const sha = h.digest('hex');
      if (size !== f.size || sha !== f.sha256) {
        throw new BagVerifyError(`${p}: stored file differs from the manifest (${size} bytes, sha256 ${sha}; expected ${f.size} bytes, ${f.sha256})`);
      }
    }
  }
}
