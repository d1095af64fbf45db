// `blkfs export MOUNTPOINT|--cache DIR OUT.img [OUT.map]`: writes the cache as a ddrescue rescue, a sparse
// image (holes where nothing was read) and the mapfile of exactly that state. Never reads the device.
import * as fs from 'fs';
import * as path from 'path';
import type { ExportResult } from '../cache/import-export';
import { Interrupted, OperationError, UserError } from '../errors';
import type { ControlRequest } from '../server/control-protocol';
import { catchStopSignals, endOfSignal, STOP_SIGNALS } from '../stop-signals';
import type { ServerAddress } from './server-answer';
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
  const [{ findServer }, { guardOutputs, guardMediumDevice, mountedSource, writtenFiles }, { recordedMediumOf }, { busyCacheError }] = await Promise.all([
    import('./mount-target'),
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
  const special = new Set<string>(); // written in place: not regular files, nor new
  const inPlace = (p: string) => special.has(p);
  for (const f of [image, mapfile]) {
    const st = fs.existsSync(f) ? fs.statSync(f) : undefined;
    if (st && !st.isFile()) special.add(f);
    if (st?.isDirectory()) throw new UserError(`output is a directory: ${f}`);
    const written = writtenFiles(f).map((w) => (fs.existsSync(w) ? fs.statSync(w) : undefined)); // a loop device writes its file
    if (medium.file && written.some((w) => w !== undefined && w.dev === medium.file!.dev && w.ino === medium.file!.ino)) {
      throw new UserError(`Refusing to write "${f}": it is the image file this cache was read from (writing it would destroy the medium)`);
    }
    // As ddrescue asks for -f: a disk's filesystem (perhaps mounted) or an earlier rescue on it would be overwritten.
    if (st?.isBlockDevice() && !opts.force) throw new UserError(`${f} is a block device: exporting onto it overwrites what it holds; give --force if you mean it`);
    if (!fs.existsSync(path.dirname(f))) throw new UserError(`output directory does not exist: ${path.dirname(f)}`);
  }
  // Ctrl-C, SIGTERM, SIGHUP: the export stops with its partial files removed, the outputs left as they were.
  const stop = catchStopSignals();
  let result: ExportResult;
  let cacheDir = opts.cache;
  let late: unknown; // a signal that came once the outputs were being renamed: they are whole, and it still ends the command
  try {
    if (server) {
      cacheDir = server.cacheDir || 'DIR';
      result = await exportThroughServer(server, { cmd: 'export', image, mapfile, force: opts.force === true }, stop.signal);
    } else {
      // Loaded here, not at the top: every blkfs command (sbx … too) would pay for the cache layer.
      const [{ openOffline }, { exportImage }] = await Promise.all([import('../cache/cache-open'), import('../cache/import-export')]);
      const dev = await openOffline(opts.cache!).catch((err: unknown) => {
        throw busy(err);
      });
      try {
        result = await exportImage(dev, image, mapfile, { replace: opts.force === true, stop: stop.signal });
      } finally {
        await dev.close();
      }
    }
    late = stop.endingError(undefined); // told here: release() would end the process before the report
  } catch (err) {
    const ending = stop.endingError(err);
    if (ending instanceof Interrupted) ending.message += `: the export was cancelled; ${leftAsTheyWere([image, mapfile], inPlace)}`;
    throw ending;
  } finally {
    stop.release();
  }
  process.stdout.write(`exported ${result.bytesWritten} bytes to ${image}, mapfile ${mapfile}\n`);
  if (late instanceof Interrupted) throw Object.assign(late, { message: `${late.message}: it came after the export was complete` });
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

/**
 * The export through the mount's server. A stop signal sends `cancel`, then the server's answer is awaited: by then
 * the partial files are gone. A second signal leaves at once (a server stuck writing to a hung disk): the server still
 * stops the export when it sees the connection gone.
 */
async function exportThroughServer(server: ServerAddress, req: ControlRequest, stop: AbortSignal): Promise<ExportResult> {
  const { requestServer } = await import('./server-answer');
  stop.throwIfAborted();
  const session = await requestServer(server, req);
  const leave = (sig: NodeJS.Signals) => {
    process.stderr.write('blkfs: leaving without waiting; the server removes the partial files once it can\n');
    endOfSignal(sig);
  };
  const cancel = () => {
    process.stderr.write('\nblkfs: stopping the export (again to leave at once)...\n');
    session.send({ cmd: 'cancel' });
    for (const sig of STOP_SIGNALS) process.once(sig, leave);
  };
  if (stop.aborted) cancel();
  else stop.addEventListener('abort', cancel, { once: true });
  try {
    const reply = await session.result;
    if (reply.type === 'error') throw reply.exitCode === 1 ? new UserError(reply.message) : new OperationError(reply.message);
    if (reply.type !== 'done') throw new OperationError('unexpected answer from the blkfs server');
    return reply.result as ExportResult;
  } finally {
    stop.removeEventListener('abort', cancel);
    for (const sig of STOP_SIGNALS) process.off(sig, leave);
  }
}

/** What a cancelled export left: `inPlace` outputs (devices) keep what reached them, the others are as they were. */
function leftAsTheyWere(outputs: string[], inPlace: (p: string) => boolean): string {
  const written = outputs.filter(inPlace);
  const untouched = outputs.filter((o) => !inPlace(o));
  return [
    untouched.length > 0 ? `${untouched.join(' and ')} ${untouched.length > 1 ? 'are' : 'is'} as before (no partial file is left)` : '',
    written.length > 0 ? `${written.join(' and ')} (written in place) may hold part of it` : '',
  ]
    .filter((s) => s !== '')
    .join('; ');
}

function isDevice(p: string): boolean {
  try {
    const st = fs.statSync(p);
    return st.isBlockDevice() || st.isCharacterDevice();
  } catch {
    return false;
  }
}
