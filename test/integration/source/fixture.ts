// A 4 MiB pseudo-random image with two bad ranges, served by nbdkit's ddrescue filter:
// R1 is page-aligned (0x200000 + 4 KiB), R2 is not (0x300200 + 1 KiB), like R1/R2 in the research notes.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { truthMapfile } from '../../helpers/truth-mapfile';

export const IMAGE_SIZE = 4 * 1024 * 1024;
export const R1 = { offset: 0x200000, length: 0x1000 };
export const R2 = { offset: 0x300200, length: 0x400 };

export interface Fixture {
  dir: string;
  image: string;
  bytes: Buffer;
  /** ddrescue mapfile for `--filter=ddrescue ddrescue-mapfile=...`: '+' everywhere except R1 and R2. */
  badMap: string;
  remove(): void;
}

export function makeFixture(): Fixture {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-nbd-'));
  // AES-CTR over zeros: deterministic "random" bytes, fast to generate.
  const cipher = crypto.createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16, 0));
  const bytes = cipher.update(Buffer.alloc(IMAGE_SIZE));
  const image = path.join(dir, 'medium.img');
  fs.writeFileSync(image, bytes);
  const badMap = path.join(dir, 'bad.map');
  fs.writeFileSync(badMap, truthMapfile(IMAGE_SIZE, [R1, R2]));
  return { dir, image, bytes, badMap, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export function overlapsBad(offset: number, length: number): boolean {
  return [R1, R2].some((r) => offset < r.offset + r.length && r.offset < offset + length);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once the process is gone (signal 0 fails). */
export async function waitGone(pid: number, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await sleep(10);
  }
  return false;
}
