// For bench/speed.sh: device read figures from an nbdkit log filter's file, and the bad ranges of a ddrescue
// mapfile. Usage:
//   node dist/bench/speed-log.js reads LOGFILE    -> "<requests> <failed> <ok bytes> <good bytes read twice>"
//   node dist/bench/speed-log.js bad MAPFILE      -> the '-' byte ranges, merged, one "offset+length" per line
//   node dist/bench/speed-log.js scratches SIZE   -> a truth mapfile for nbdkit's ddrescue filter: a few thousand
//                                                    bad 512-byte sectors in 8 clusters of short bad runs and good
//                                                    gaps (a scratched disc), the same for the same SIZE
import * as fs from 'fs';
import { overlaps, readNbdkitLog, union } from '../test/helpers/nbdkit-log';
import { BadRange, truthMapfile } from '../test/helpers/truth-mapfile';

function scratches(size: number): BadRange[] {
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return 1 + (Math.floor(seed / 65536) % n);
  };
  const sectors = Math.floor(size / 512);
  const bad: BadRange[] = [];
  for (let k = 0; k < 8; k++) {
    let s = Math.floor(((k + 0.3) * sectors) / 8) + rand(1000);
    for (let badInCluster = 0; badInCluster < 450 && s < sectors; ) {
      const run = Math.min(rand(40), sectors - s);
      bad.push({ offset: s * 512, length: run * 512 });
      badInCluster += run;
      s += run + rand(24);
    }
  }
  return bad;
}

function badRanges(text: string): { offset: number; length: number }[] {
  const ranges: { offset: number; length: number }[] = [];
  let sawStatus = false;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (line === '') continue;
    if (!sawStatus) {
      sawStatus = true; // current_pos current_status current_pass
      continue;
    }
    const [pos, size, status] = line.split(/\s+/);
    if (status === '-') ranges.push({ offset: Number(pos), length: Number(size) });
  }
  return union(ranges);
}

const [what, file] = process.argv.slice(2);
if (what === 'reads') {
  const log = readNbdkitLog(file);
  const twice = overlaps(log.ok).reduce((n, r) => n + r.length, 0);
  console.log(`${log.reads.length} ${log.failed.length} ${log.okBytes} ${twice}`);
} else if (what === 'bad') {
  for (const r of badRanges(fs.readFileSync(file, 'utf8'))) console.log(`${r.offset}+${r.length}`);
} else if (what === 'scratches') {
  process.stdout.write(truthMapfile(Number(file), scratches(Number(file))));
} else {
  console.error('usage: speed-log.js reads LOGFILE | bad MAPFILE | scratches SIZE');
  process.exit(1);
}
