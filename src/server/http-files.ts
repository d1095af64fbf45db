// Which mount files the web page may hand out, and how they are streamed. Only /sbx/image.sbx, /sbx/image.map,
// /mapfile, /checksums, /files.txt|csv|json and /rescued/<UID>/<file> are reachable: the path is split into decoded
// segments, and each segment is looked up by exact name in the view tree, so '..', encoded slashes and anything
// outside those files find nothing (404).
import type { ServerResponse } from 'http';
import { DirectoryView, Node, View, ViewErrno } from '../views/view';

const CHUNK = 1 << 20;
/** Written to the socket in pieces this large: a download's progress (or its stall) is seen piece by piece. */
const PIECE = 64 * 1024;

/** The decoded segments of a URL path, or undefined when one is empty, '.', '..' or holds '/', '\\' or NUL. */
export function pathSegments(pathname: string): string[] | undefined {
  if (pathname === '/') return [];
  const raw = pathname.split('/').slice(1);
  const out: string[] = [];
  for (const r of raw) {
    let s: string;
    try {
      s = decodeURIComponent(r);
    } catch {
      return undefined;
    }
    if (s === '' || s === '.' || s === '..' || /[/\\\0]/.test(s)) return undefined;
    out.push(s);
  }
  return out;
}

/** The page names the file report and the checksums: a person reading it remotely can fetch them too. */
const TOP_DOWNLOADS = new Set(['mapfile', 'checksums', 'files.txt', 'files.csv', 'files.json']);

function allowed(segs: readonly string[]): boolean {
  if (segs.length === 1) return TOP_DOWNLOADS.has(segs[0]);
  if (segs.length === 2) return segs[0] === 'sbx' && (segs[1] === 'image.sbx' || segs[1] === 'image.map');
  return segs.length === 3 && segs[0] === 'rescued';
}

/** The file view a download path names, if it is one the page offers. */
export async function downloadable(root: DirectoryView, segs: readonly string[]): Promise<View | undefined> {
  if (!allowed(segs)) return undefined;
  let node: Node = root;
  for (const name of segs) {
    if (node.kind !== 'directory') return undefined;
    const next: Node | undefined = (await node.entries()).get(name);
    if (!next) return undefined;
    node = next;
  }
  return node.kind === 'file' ? node : undefined;
}

/**
 * How long rescued.json waits for the files' sizes. A find's info.json and container may need sectors read first (its
 * burst level, on a slow or scratched medium), and the page, which waits for rescued.json, must go on following the rescue.
 */
const SIZE_WAIT_MS = 1000;

/** The /rescued/ finds: UID → file names with sizes (null: not known within SIZE_WAIT_MS, it waits for the medium). */
export async function listRescued(root: DirectoryView): Promise<{ uid: string; files: { name: string; size: number | null }[] }[]> {
  const rescued = (await root.entries()).get('rescued');
  if (!rescued || rescued.kind !== 'directory') return [];
  const dirs = await rescued.entries(); // may wait a moment for the block scanner (rescued-views.ts), not for the medium
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), SIZE_WAIT_MS)));
  const out = [];
  for (const [uid, dir] of dirs) {
    if (dir.kind !== 'directory') continue;
    const files = [];
    for (const [name, f] of await dir.entries()) {
      if (f.kind === 'file') files.push({ name, size: Promise.race([Promise.resolve().then(() => f.getattr()).then((a) => a.size, () => null), late]) });
    }
    out.push({ uid, files: await Promise.all(files.map(async (x) => ({ name: x.name, size: await x.size }))) });
  }
  clearTimeout(timer);
  return out;
}

/** RFC 5987 ext-value characters: encodeURIComponent leaves a few that attr-char does not allow. */
function encodeRfc5987(name: string): string {
  // A lone surrogate (no medium's UTF-8 gives one, but a name is a name) would make encodeURIComponent throw.
  const wellFormed = name.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
  return encodeURIComponent(wellFormed).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Waits until `res` takes more data ('drain'), or has handed everything to the system ('finish'), or is gone: a client
 * that closes the connection never drains it. One that takes nothing for `stallMs` is dropped: a suspended tab or a
 * client that stopped reading holds no socket and snapshot forever.
 */
function progressOrClose(res: ServerResponse, event: 'drain' | 'finish', stallMs: number): Promise<void> {
  if (res.destroyed || (event === 'finish' && res.writableFinished)) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => res.destroy(new Error(`download stalled: the client took nothing for ${stallMs / 1000} s`)), stallMs);
    const done = () => {
      clearTimeout(timer);
      res.off(event, done);
      res.off('close', done);
      resolve();
    };
    res.on(event, done);
    res.on('close', done);
  });
}

/**
 * Streams one open snapshot of `view` (as a reader of the mount would see it). Content-Length is the size the
 * view states at open; a file that cannot go on (EIO) aborts the response, so a download is never silently short.
 */
export async function streamView(view: View, res: ServerResponse, name: string, head: boolean, stallMs: number): Promise<void> {
  const handle = await view.open();
  try {
    // This handle's own snapshot: getattr states the largest one open (a mount reader's may be larger).
    const size = view.sizeOf ? view.sizeOf(handle) : (await view.getattr()).size;
    // The first bytes before the head: a file that cannot start (the medium gone, a bad first sector) gets a
    // status that says why instead of an empty reply.
    const first = head ? undefined : await view.read(handle, 0, CHUNK);
    if (first instanceof ViewErrno) throw first;
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      // filename* keeps a rescued file's own name (RFC 6266); the plain one is an ASCII fallback.
      'content-disposition': `attachment; filename="${name.replace(/[^\w.-]/g, '_')}"; filename*=UTF-8''${encodeRfc5987(name)}`,
      ...(size > 0 ? { 'content-length': String(size) } : {}),
      'cache-control': 'no-store',
      // No ranges: a resumed download would join bytes of two states of the file (the mapfile, or image.sbx before
      // and after a retry) into one that never existed. curl -C and wget -c then say they cannot resume.
      'accept-ranges': 'none',
    });
    if (head) return void res.end();
    // With a Content-Length, exactly that many bytes: more would be read as the next reply on a kept-alive
    // connection, and fewer must abort (a clean end would hang the client, then look complete to some).
    const end = size > 0 ? size : Infinity;
    let off = 0;
    for (let next = first; off < end; next = undefined) {
      if (res.destroyed) return; // the client went away (a read may have waited for the medium)
      const chunk = next ?? (await view.read(handle, off, Math.min(CHUNK, end - off)));
      if (chunk instanceof ViewErrno) {
        res.destroy(new Error(`${name}: ${chunk.errno} at ${off}`));
        return;
      }
      if (chunk.length === 0) break;
      const part = chunk.length > end - off ? chunk.subarray(0, end - off) : chunk;
      off += part.length;
      for (let p = 0; p < part.length && !res.destroyed; p += PIECE) {
        if (!res.write(part.subarray(p, p + PIECE))) await progressOrClose(res, 'drain', stallMs);
      }
    }
    if (off < end && end !== Infinity) return void res.destroy(new Error(`${name}: ended at ${off} of ${size} bytes`));
    res.end();
    await progressOrClose(res, 'finish', stallMs); // its last bytes too: a client that stops just before them holds no socket
  } finally {
    await view.release(handle);
  }
}
