// `blkfs status MOUNTPOINT`: the rescue at a glance (from MOUNTPOINT/status, /mapfile and /rescued/), with a
// one-line coloured map; --json prints /status as it is; --watch redraws in place until Ctrl-C.
import * as fs from 'fs';
import * as path from 'path';
import { Command, InvalidArgumentError } from 'commander';
import { UserError } from '../errors';
import { mountAction } from './mount-action';
import { DeadMountError, readMountFile, requireBlkfsMount } from './mount-target';
import type { RescuedFind, StatusJson } from './status-report';

interface StatusOpts {
  json?: boolean;
  watch?: boolean;
  interval: number;
}

function seconds(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0.1 || n > 3600) throw new InvalidArgumentError('--interval must be 0.1 to 3600 seconds');
  return n;
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show the rescue on a blkfs MOUNTPOINT: % rescued, bad areas, rate and ETA, phase, finds, log, a one-line map')
    .argument('<mountpoint>')
    .option('--json', 'print MOUNTPOINT/status (JSON) as it is')
    .option('-w, --watch', 'redraw every --interval seconds until Ctrl-C')
    .option('--interval <seconds>', 'refresh interval for --watch', seconds, 1)
    .action(
      mountAction(async (mountpoint: string, opts: StatusOpts) => {
        const abs = requireBlkfsMount(mountpoint);
        const colour = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR && !opts.json;
        const once = async () => (opts.json ? readText(path.join(abs, 'status')) : report(abs, colour));
        if (!opts.watch) {
          process.stdout.write(await once());
          return;
        }
        const tty = Boolean(process.stdout.isTTY);
        if (tty) process.stdout.write('\x1b[?25l'); // hide the cursor while redrawing
        const restore = () => {
          if (tty) process.stdout.write('\x1b[?25h');
          process.exit(0);
        };
        process.on('SIGINT', restore);
        process.on('SIGTERM', restore);
        for (;;) {
          const text = await once();
          // Home, draw, clear what an earlier, longer frame left below.
          process.stdout.write(tty ? `\x1b[H${text.replace(/\n/g, '\x1b[K\n')}\x1b[J` : text + '\n');
          await new Promise((r) => setTimeout(r, opts.interval * 1000));
          if (!fs.existsSync(path.join(abs, 'status'))) throw new UserError(`${abs} is no longer a blkfs mount`);
        }
      }),
    );
}

async function readText(file: string): Promise<string> {
  try {
    return await readMountFile(path.dirname(file), path.basename(file));
  } catch (err) {
    if (err instanceof DeadMountError) throw err;
    throw new UserError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

async function report(mnt: string, colour: boolean): Promise<string> {
  const [{ formatStatusReport }, { parseMapfile }] = await Promise.all([import('./status-report'), import('../cache/mapfile')]);
  const status = JSON.parse(await readText(path.join(mnt, 'status'))) as StatusJson;
  let extents;
  try {
    extents = parseMapfile(await fs.promises.readFile(path.join(mnt, 'mapfile'), 'latin1')).blocks;
  } catch {
    extents = undefined; // the map line is a bonus: the counters still tell the story
  }
  const columns = Math.min(200, (process.stdout.columns || 80) - 1); // 0 or undefined: not a sized terminal
  return formatStatusReport(status, extents, await rescuedFinds(mnt), { colour, columns });
}

async function rescuedFinds(mnt: string): Promise<RescuedFind[]> {
  const dir = path.join(mnt, 'rescued');
  let uids: string[];
  try {
    uids = await fs.promises.readdir(dir);
  } catch {
    return [];
  }
  const out: RescuedFind[] = [];
  for (const uid of uids.sort()) {
    const files = await fs.promises.readdir(path.join(dir, uid)).catch(() => [] as string[]);
    out.push({ uid, files: files.sort() });
  }
  return out;
}
