// Prints figures (not a test): what the private FUSE mount costs `blkfs files IMAGE MAPFILE` on an unfinished rescue.
// The same layout read by The Sleuth Kit from the image file (as for a fully rescued image) and through the masked
// view with every byte rescued (the mount's whole overhead, the bytes TSK reads being the same), alternating, best
// and median of ROUNDS: a 128 MiB ext4 with 10,000 files and a 64 MiB FAT16 (TSK's orphan search reads its free space).
// Run: npx tsc -p . && node dist/bench/files-masked.js
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readMediumLayout } from '../src/files/tsk-loaddb';
import { readMaskedLayout } from '../src/cli/masked-layout';
import { msSince as ms } from './lib/bench-helpers';

const ROUNDS = 5;

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  return `best ${s[0].toFixed(0)} ms, median ${s[s.length >> 1].toFixed(0)} ms`;
}

async function compare(name: string, img: string): Promise<void> {
  const size = fs.statSync(img).size;
  const direct: number[] = [];
  const masked: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let t0 = process.hrtime.bigint();
    await readMediumLayout(img);
    direct.push(ms(t0));
    t0 = process.hrtime.bigint();
    await readMaskedLayout(img, [[0, size]], size);
    masked.push(ms(t0));
  }
  const ratio = Math.min(...masked) / Math.min(...direct);
  console.log(`${name}: image file ${stats(direct)}; private mount ${stats(masked)}; ratio of bests ${ratio.toFixed(2)}`);
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-bench-masked-'));
  try {
    const src = path.join(dir, 'src');
    for (let d = 0; d < 100; d++) {
      fs.mkdirSync(path.join(src, `d${d}`), { recursive: true });
      for (let f = 0; f < 100; f++) fs.writeFileSync(path.join(src, `d${d}`, `f${f}.bin`), Buffer.alloc(2000 + f, d));
    }
    const ext4 = path.join(dir, 'ext4.img');
    execFileSync('mkfs.ext4', ['-q', '-N', '12000', '-d', src, ext4, '128M']);
    await compare('ext4 128 MiB, 10,000 files', ext4);
    const fat = path.join(dir, 'fat.img');
    execFileSync('mkfs.vfat', ['-C', fat, String(64 * 1024)], { stdio: 'ignore' });
    execFileSync('mcopy', ['-s', '-i', fat, path.join(src, 'd0'), '::/']);
    await compare('FAT16 64 MiB, 100 files', fat);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
