// Checks for the integrity tests: what a cache directory holds, compared with the medium it belongs to.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { StateStore } from '../../../src/cache/state-store';

/** Every '+' byte of the cache equals the medium's byte; returns how many '+' bytes there are. */
export function expectCacheFaithful(cacheDir: string, medium: Buffer, label = cacheDir): number {
  const store = StateStore.open(path.join(cacheDir, 'state.sqlite'), cacheDir);
  try {
    const id = store.identity();
    if (!id) return 0;
    expect(id.size, `${label}: medium size`).to.equal(medium.length);
    const ss = id.sectorSize;
    const data = fs.readFileSync(path.join(cacheDir, 'data.img'));
    let plus = 0;
    for (const e of store.loadSectorMap(Math.ceil(id.size / ss)).extents()) {
      if (e.status !== '+') continue;
      const a = e.start * ss;
      const b = Math.min(id.size, (e.start + e.count) * ss);
      const same = data.subarray(a, b).equals(medium.subarray(a, b));
      expect(same, `${label}: '+' bytes ${a}..${b} differ from the medium`).to.equal(true);
      plus += b - a;
    }
    return plus;
  } finally {
    store.close();
  }
}

/** The '+' sector ranges of a cache, as [startByte, endByte) pairs. */
export function plusRanges(cacheDir: string): [number, number][] {
  const store = StateStore.open(path.join(cacheDir, 'state.sqlite'), cacheDir);
  try {
    const id = store.identity()!;
    const out: [number, number][] = [];
    for (const e of store.loadSectorMap(Math.ceil(id.size / id.sectorSize)).extents()) {
      if (e.status === '+') out.push([e.start * id.sectorSize, Math.min(id.size, (e.start + e.count) * id.sectorSize)]);
    }
    return out;
  } finally {
    store.close();
  }
}

/** Reads [offset, offset+length) of a file with async I/O (never block on our own FUSE mount). */
export async function readRange(file: string, offset: number, length: number): Promise<Buffer> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await fh.read(buf, done, Math.min(1 << 20, length - done), offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return buf.subarray(0, done);
  } finally {
    await fh.close();
  }
}

/** The errno code of a failing read, or 'ok'. */
export async function readOutcome(file: string, offset: number, length: number): Promise<string> {
  try {
    await readRange(file, offset, length);
    return 'ok';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
