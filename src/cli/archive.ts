// `blkfs archive MOUNTPOINT DEST...`: one BagIt bag of the mounted medium per destination (a directory, or
// s3://bucket/prefix), written while the medium is being read. A client of the mount: it reads the mount's files
// and talks to its server over the control socket (which joins the acquisition for it and shows its progress in
// /status); the server's event loop never waits for it.
import * as fs from 'fs';
import * as path from 'path';
import type { BagStore } from '../archive/bag-store';
import type { MountAccess } from '../archive/archive-run';
import type { MountStatusForArchive } from '../archive/archive-status';
import { readUpTo } from '../cache/data-file';
import { OperationError, UserError } from '../errors';
import { mountAction } from './mount-action';
import { BLKFS_VERSION } from '../version';

interface ArchiveOpts {
  endpoint?: string;
  region?: string;
  meta: string[];
  partSize?: number;
  name?: string;
  quiet?: boolean;
}

const VERSION = BLKFS_VERSION;

/** A request of a mount whose server died: ENOTCONN after, ECONNABORTED when it was in flight as the server died. */
const DEAD_MOUNT_CODES = new Set(['ENOTCONN', 'ECONNABORTED']);

/** The server died under the archive (its mount answers ENOTCONN, its control socket closed): what was stored is
 *  recorded in the cache directory, so the same command resumes on a new mount. */
function serverGone(mountpoint: string, cause: unknown): OperationError {
  return new OperationError(
    `the blkfs server of ${mountpoint} went away during the archive; what was stored is kept: run blkfs umount ${mountpoint}, mount the medium again, and run the same blkfs archive command to resume`,
    { cause },
  );
}

function mountAccess(mountpoint: string): MountAccess {
  const file = (name: string) => path.join(mountpoint, name);
  const guard = async <T>(op: Promise<T>): Promise<T> => {
    try {
      return await op;
    } catch (err) {
      throw DEAD_MOUNT_CODES.has((err as NodeJS.ErrnoException).code ?? '') ? serverGone(mountpoint, err) : err;
    }
  };
  return {
    status: async () => JSON.parse(await guard(fs.promises.readFile(file('status'), 'utf8'))) as MountStatusForArchive,
    mapfile: () => guard(fs.promises.readFile(file('mapfile'), 'utf8')),
    readFile: (name) => guard(fs.promises.readFile(file(name))),
    openContainer: async () => {
      const fh = await guard(fs.promises.open(file('sbx/image.sbx'), 'r'));
      return {
        read: (offset, length) => guard(readUpTo(fh, offset, length)),
        close: () =>
          fh.close().catch((err: unknown) => {
            if (!DEAD_MOUNT_CODES.has((err as NodeJS.ErrnoException).code ?? '')) throw err; // a dead mount has nothing to close
          }),
      };
    },
  };
}

export const runArchive = mountAction(async (mountpoint: string, dests: string[], opts: ArchiveOpts) => {
  const [{ parseArchiveMeta }, { findServer }, { requestServer, ServerNotAnsweringError }, { ProgressReporter }] = await Promise.all([
    import('./archive-meta'),
    import('./mount-target'),
    import('./server-answer'),
    import('./sbx/report'),
  ]);
  const meta = parseArchiveMeta(opts.meta);
  const server = await findServer(mountpoint);
  const access = mountAccess(server.mountpoint);
  const [{ runArchive, bagNameOf }, { DirStore }, { safeBagName }] = await Promise.all([
    import('../archive/archive-run'),
    import('../archive/dir-store'),
    import('../archive/bagit'),
  ]);
  const st = await access.status();
  if (!st.sbxImage) throw new UserError(`${mountpoint} has no /sbx/image.sbx to archive`);
  const bag = safeBagName(opts.name ?? bagNameOf(st.sbxImage));
  const { choosePartSize } = await import('../archive/part-plan');
  const partSize = choosePartSize(st.sbxImage.containerSize, st.sbxImage.blockSize, opts.partSize);
  const stores: BagStore[] = [];
  for (const d of dests) {
    if (d.startsWith('s3://')) {
      const { S3Store, s3Client, parseS3Url } = await import('../archive/s3-store');
      const s3opts = { endpoint: opts.endpoint, region: opts.region, meta: meta.s3 };
      stores.push(new S3Store(s3Client(s3opts), parseS3Url(d), bag, s3opts));
    } else {
      const dir = path.resolve(d);
      if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UserError(`destination directory does not exist: ${d}`);
      if (dir === server.mountpoint || dir.startsWith(server.mountpoint + path.sep)) throw new UserError(`the destination cannot be inside the mount: ${d}`);
      // Nor inside a cache directory (the mount's own too) or another blkfs mount, as any output.
      (await import('./output-guard')).guardOutputs([path.join(dir, bag)], []);
      stores.push(new DirStore(dir, bag, partSize));
    }
  }
  const bar = new ProgressReporter('Archiving (data/image.sbx bytes stored)', 'bytes', opts.quiet ? 0 : 2, false, process.stderr);
  const session = await requestServer(server, { cmd: 'archive', destinations: stores.map((s) => s.label) });
  const acquisitionFailed = session.result.then(
    (reply) => {
      if (reply.type === 'error') throw new OperationError(`reading the medium failed: ${reply.message}`);
      return new Promise<never>(() => {});
    },
    (err: unknown) => {
      throw err instanceof ServerNotAnsweringError ? err : serverGone(server.mountpoint, err);
    },
  );
  acquisitionFailed.catch(() => {});
  let result;
  try {
    result = await runArchive(access, stores, {
      partSize,
      toolVersion: VERSION,
      bagInfo: meta.bagInfo,
      acquisitionFailed,
      log: (m) => process.stderr.write(`\nblkfs: ${m}\n`),
      progress: (p) => {
        session.send({ cmd: 'archive-progress', progress: p });
        bar.update(p.bytesArchived, p.containerBytes);
      },
    });
  } finally {
    session.send({ cmd: 'cancel' });
  }
  await session.result.catch(() => undefined);
  bar.finish();
  for (const b of result.bags) process.stdout.write(`${b}\n`);
  process.stderr.write(
    `blkfs: archived: data/image.sbx ${result.containerBytes} bytes (sha256 ${result.imageSha256}), ${result.partsStored} parts stored now, ${result.partsAlreadyStored} already stored before\n`,
  );
});
