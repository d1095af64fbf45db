// bench/mixed-stress: a stress hunt for rules 1 and 3 (never serve wrong bytes; each sector read from the device at
// most once) under a realistic mix of concurrent use of one mount, and a media change under concurrent readers.
// Prints what it did and what it found; asserts nothing (exit 1 when it found a problem).
// Usage: node dist/bench/mixed-stress.js [--mib N] [--seconds S] [--rounds R] [--seed N] [--part mix|swap|both]
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cleanup } from '../test/integration/mount/harness';
import { detachAllLoops } from '../test/helpers/loop-device';
import { Findings, makeMedium } from './mixed-stress-lib';
import { mixRound } from './mixed-stress-mix';
import { swapRound } from './mixed-stress-swap';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
}

async function main(): Promise<number> {
  const mib = Number(arg('mib', '128'));
  const seconds = Number(arg('seconds', '90'));
  const rounds = Number(arg('rounds', '2'));
  const seed = Number(arg('seed', '1'));
  const part = arg('part', 'both');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-mixed-stress-'));
  const f = new Findings();
  const t0 = Date.now();
  try {
    if (part !== 'swap') {
      const m = await makeMedium(dir, mib, `mixed-stress/${seed}`);
      process.stdout.write(`medium: ${mib} MiB, bad ${JSON.stringify(m.bad)}\n`);
      for (let i = 0; i < rounds; i++) {
        // Even rounds: an NBD URI (our nbdkit), everything from the start. Odd rounds: the image file (blkfs's own
        // nbdkit, the filters given with --nbdkit-filter), a slower medium, readers alone on missing sectors for a
        // while, then ddrescue drives /mapfile and blkfs acquire joins late.
        const o = i % 2 === 0
          ? { seconds, rate: '16M', rdelay: '2ms', seed: seed + i, acquireAt: 0.15, driverAt: 0.05, fileSource: false }
          : { seconds, rate: '4M', rdelay: '5ms', seed: seed + i, acquireAt: 0.7, driverAt: 0.5, fileSource: true };
        process.stdout.write(`mix round ${i}: ${JSON.stringify(o)}\n`);
        await mixRound(dir, m, o, f);
        await cleanup();
      }
    }
    if (part !== 'mix') {
      process.stdout.write('media change round\n');
      await swapRound(dir, Math.min(mib, 32), seconds, seed, f);
    }
  } finally {
    await cleanup();
    await detachAllLoops();
    if (process.env.KEEP !== '1') fs.rmSync(dir, { recursive: true, force: true });
    else process.stdout.write(`kept ${dir}\n`);
  }
  process.stdout.write(`\n== mixed-stress: ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  for (const [k, v] of [...f.counts].sort()) process.stdout.write(`  ${k}: ${v}\n`);
  for (const n of f.notes) process.stdout.write(`  note: ${n}\n`);
  process.stdout.write(f.problems.length ? `${f.problems.length} PROBLEMS:\n${f.problems.map((p) => `  - ${p}`).join('\n')}\n` : 'no problems found\n');
  return f.problems.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`mixed-stress: ${(e as Error).stack ?? e}\n`);
    process.exit(2);
  },
);
