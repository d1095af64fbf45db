// `blkfs export MOUNTPOINT|--cache DIR OUT.img [OUT.map]`: writes the cache as a ddrescue rescue, a sparse
// image (holes where nothing was read) and the mapfile of exactly that state. Never reads the device.
import * as fs from 'fs';
import * as path from 'path';
import type { ExportResult } from '../cache/import-export';
import { OperationError, UserError } from '../errors';
import { mountAction } from './mount-action';
import { mapfileBeside } from './paths';

export const runExport = mountAction(async (paths: string[], opts: { cache?: string; force?: boolean }) => {
  const mountpoint = opts.cache ? undefined : paths[0];
  const outs = opts.cache ? paths : paths.slice(1);
  if (outs.length < 1 || outs.length > 2) {
    throw new UserError(opts.cache ? 'usage: blkfs export --cache DIR OUT.img [OUT.map]' : 'usage: blkfs export MOUNTPOINT OUT.img [OUT.map]');
  }
  const image = path.resolve(outs[0]);
  if (outs[1] === undefined && isDevice(image)) {
    // Its default mapfile would be a new file in /dev (a tmpfs): gone at the next boot, with the record of the rescue.
    throw new UserError(`${image} is a device: name the mapfile too (blkfs export ${opts.cache ? `--cache ${opts.cache}` : paths[0]} ${outs[0]} OUT.map)`);
  }
  const mapfile = path.resolve(outs[1] ?? mapfileBeside(outs[0]));
  const [{ findServer }, { requestServer }, { guardOutputs, guardMediumDevice, mountedSource, writtenFiles }, { recordedMediumOf }, { busyCacheError }] = await Promise.all([
    import('./mount-target'),
    import('./server-answer'),
    import('./output-guard'),
    import('../cache/cache-open'),
    import('./cache-argument'),
  ]);
  // Its server first: it must answer before anything looks into the mount.
  const server = mountpoint !== undefined ? await findServer(mountpoint) : undefined;
  guardOutputs([image, mapfile], server ? mountedSource(server.source) : []); // nor into a cache directory
  const busy = (err: unknown) => busyCacheError(err, opts.cache!, (m) => `export it through its mount: blkfs export ${m} ${outs.join(' ')}`);
  // Offline, the cache says where its medium was read from: neither is written, though nothing serves it now.
  let medium: ReturnType<typeof recordedMediumOf> = {};
  if (!server) {
    try {
      medium = recordedMediumOf(opts.cache!);
    } catch (err) {
      throw busy(err);
    }
    if (medium.device !== undefined) guardMediumDevice([image, mapfile], medium.device);
  }
  for (const f of [image, mapfile]) {
    const st = fs.existsSync(f) ? fs.statSync(f) : undefined;
    if (st?.isDirectory()) throw new UserError(`output is a directory: ${f}`);
    const written = writtenFiles(f).map((w) => (fs.existsSync(w) ? fs.statSync(w) : undefined)); // a loop device writes its file
    if (medium.file && written.some((w) => w !== undefined && w.dev === medium.file!.dev && w.ino === medium.file!.ino)) {
      throw new UserError(`Refusing to write "${f}": it is the image file this cache was read from (writing it would destroy the medium)`);
    }
    // As ddrescue asks for -f: a disk's filesystem (perhaps mounted) or an earlier rescue on it would be overwritten.
    if (st?.isBlockDevice() && !opts.force) throw new UserError(`${f} is a block device: exporting onto it overwrites what it holds; give --force if you mean it`);
    if (!fs.existsSync(path.dirname(f))) throw new UserError(`output directory does not exist: ${path.dirname(f)}`);
  }
  let result: ExportResult;
  let cacheDir = opts.cache;
  if (server) {
    cacheDir = server.cacheDir || 'DIR';
    const reply = await (await requestServer(server, { cmd: 'export', image, mapfile, force: opts.force === true })).result;
    if (reply.type === 'error') throw reply.exitCode === 1 ? new UserError(reply.message) : new OperationError(reply.message);
    if (reply.type !== 'done') throw new OperationError('unexpected answer from the blkfs server');
    result = reply.result as ExportResult;
  } else {
    // Loaded here, not at the top: every blkfs command (sbx … too) would pay for the cache layer.
    const [{ openOffline }, { exportImage }] = await Promise.all([import('../cache/cache-open'), import('../cache/import-export')]);
    const dev = await openOffline(opts.cache!).catch((err: unknown) => {
      throw busy(err);
    });
    try {
      result = await exportImage(dev, image, mapfile, { replace: opts.force === true });
    } finally {
      await dev.close();
    }
  }
  process.stdout.write(`exported ${result.bytesWritten} bytes to ${image}, mapfile ${mapfile}\n`);
  if (result.damaged.length > 0) {
    // Both outputs are complete and agree: the damaged bytes are '?' in the mapfile, not data in the image.
    const bytes = result.damaged.reduce((n, d) => n + d.length, 0);
    for (const d of result.damaged) process.stderr.write(`blkfs: cache damaged: bytes ${d.offset}..${d.offset + d.length} (${d.length} bytes) not exported\n`);
    const where = `${mountpoint !== undefined ? `blkfs umount ${mountpoint}, then ` : ''}blkfs verify --cache ${cacheDir} --forget-damaged`;
    throw new OperationError(
      `${bytes} bytes of the cache are damaged: they are '?' (non-tried) in ${mapfile} and not in the image. ` +
        `Read them again from the medium: ${where}, then mount and read them (or ddrescue from the exported pair)`,
    );
  }
});

function isDevice(p: string): boolean {
  try {
    const st = fs.statSync(p);
    return st.isBlockDevice() || st.isCharacterDevice();
  } catch {
    return false;
  }
}
