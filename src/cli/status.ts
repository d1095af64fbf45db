// `blkfs status MOUNTPOINT`: the rescue at a glance (from MOUNTPOINT/status, /mapfile and /rescued/), with a
// one-line coloured map; --json prints /status as it is; --watch redraws in place until Ctrl-C.
import * as path from 'path';
import { UserError } from '../errors';
import { ChildRead, outputOf } from './child-read';
import { mountAction } from './mount-action';
import type { RescuedFind, StatusJson } from './status-report';
import type { Dat } from '../archive/dat';

interface StatusOpts {
  json?: boolean;
  watch?: boolean;
  interval: number;
  dat?: string;
}

export const runStatus = mountAction(async (mountpoint: string, opts: StatusOpts) => {
  const [{ DeadMountError, processAlive, requireBlkfsMount }, { serverPidOf }, { mountAt }] = await Promise.all([
    import('./mount-target'),
    import('./server-answer'),
    import('../fuse/mountinfo'),
  ]);
  const abs = requireBlkfsMount(mountpoint);
  const pid = serverPidOf(abs);
  const colour = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR && !opts.json;
  const dat = opts.dat ? (await import('../archive/dat')).loadDat(opts.dat) : undefined;
  const once = async () => {
    const status = JSON.parse(await readText(abs, 'status', pid)) as StatusJson;
    if (dat) await withDatVerdict(status, dat);
    return opts.json ? JSON.stringify(status, null, 2) + '\n' : report(abs, status, colour, pid);
  };
  if (!opts.watch) {
    process.stdout.write(await once());
    dropListing();
    return;
  }
  const tty = Boolean(process.stdout.isTTY);
  if (tty) {
    process.stdout.write('\x1b[?25l'); // hide the cursor while redrawing
    // However the watch ends (Ctrl-C, the mount going away, an error), the terminal gets its cursor back.
    process.once('exit', () => process.stdout.write('\x1b[?25h'));
  }
  const stop = () => process.exit(0);
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // Never a synchronous look into the mount: a stopped server would freeze the watch for good.
  const ended = (): Error | undefined => {
    if (mountAt(abs)?.fstype !== 'fuse.blkfs') return new UserError(`${abs} is no longer a blkfs mount`);
    // Still mounted, its server gone: a dead mount (ENOTCONN), which needs clearing.
    return pid !== undefined && !processAlive(pid) ? new DeadMountError(abs) : undefined;
  };
  for (;;) {
    // The mount may go away between the look below and this read: then it is said the same way.
    const text = await once().catch((err: unknown) => {
      throw ended() ?? err;
    });
    // Home, draw, clear what an earlier, longer frame left below.
    process.stdout.write(tty ? `\x1b[H${text.replace(/\n/g, '\x1b[K\n')}\x1b[J` : text + '\n');
    await new Promise((r) => setTimeout(r, opts.interval * 1000));
    const gone = ended();
    if (gone) throw gone;
  }
});

async function readText(mountpoint: string, name: string, pid: number | undefined): Promise<string> {
  const [{ DeadMountError, readMountFile }, { ServerNotAnsweringError }] = await Promise.all([import('./mount-target'), import('./server-answer')]);
  try {
    return await readMountFile(mountpoint, name, pid);
  } catch (err) {
    if (err instanceof DeadMountError || err instanceof ServerNotAnsweringError) throw err;
    throw new UserError(`cannot read ${path.join(mountpoint, name)}: ${(err as Error).message}`);
  }
}

/** --dat: the verdict on the image's checksums from /status (they are only final once every sector is settled). */
async function withDatVerdict(status: StatusJson, dat: Dat): Promise<void> {
  const { datVerdict } = await import('../archive/dat');
  const c = (status.checksums ??= { complete: false });
  c.dat = c.complete && c.digests ? datVerdict(dat, status.size ?? 0, c.digests) : { pending: true, dat: dat.name ?? dat.file };
}

async function report(mnt: string, status: StatusJson, colour: boolean, pid: number | undefined): Promise<string> {
  const [{ formatStatusReport }, { parseMapfile }, { ServerNotAnsweringError }, { readMountFile }] = await Promise.all([
    import('./status-report'),
    import('../cache/mapfile'),
    import('./server-answer'),
    import('./mount-target'),
  ]);
  let extents;
  try {
    extents = parseMapfile(await readMountFile(mnt, 'mapfile', pid, 'latin1')).blocks;
  } catch (err) {
    if (err instanceof ServerNotAnsweringError) throw err;
    extents = undefined; // the map line is a bonus: the counters still tell the story
  }
  const columns = Math.min(200, (process.stdout.columns || 80) - 1); // 0 or undefined: not a sized terminal
  return formatStatusReport(status, extents, await rescuedFinds(mnt), { colour, columns });
}

/**
 * How long the report waits for the /rescued/ listing. A look there can wait for the medium while the server is fine:
 * another program's lookup of a file whose size needs sectors read first (a container's burst level) holds the
 * kernel's lock on that directory (libfuse 2 asks for no parallel directory operations), and a listing waits for it.
 */
const RESCUED_WAIT_MS = 3000;
/** The listing under way (--watch starts no second one beside a listing still waiting). */
let listing: { read: ChildRead; finds: Promise<RescuedFind[]> } | undefined;

/** The finds of /rescued/, or undefined when the listing waits (see RESCUED_WAIT_MS); listed by rescued-listing.js. */
async function rescuedFinds(mnt: string): Promise<RescuedFind[] | undefined> {
  // A listing carried over from the previous --watch frame has had its wait: this frame only looks whether it ended.
  let wait = 0;
  if (!listing) {
    wait = RESCUED_WAIT_MS;
    const read = outputOf(process.execPath, [path.join(__dirname, 'rescued-listing.js'), path.join(mnt, 'rescued')]);
    // A failed or malformed listing is an empty one, as an unreadable /rescued/ always was.
    const finds = read.text.then((t) => JSON.parse(t) as RescuedFind[]).catch(() => [] as RescuedFind[]);
    const current = { read, finds: finds.finally(() => listing === current && (listing = undefined)) };
    listing = current;
  }
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), wait)));
  const finds = await Promise.race([listing.finds, waited]);
  clearTimeout(timer);
  return finds;
}

/** A listing still waiting is left to the kernel (killed: it ends once the directory is free); nothing waits for it. */
function dropListing(): void {
  listing?.read.abandon();
  listing = undefined;
}
