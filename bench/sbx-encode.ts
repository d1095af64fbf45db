/**
 * Bench (prints figures, not a test): encodes INPUT with version 1 and with blkar's defaults
 * (17/10/2/12, SHA-256) and prints one line per run: "<label> <seconds> <MB/s>".
 * Usage: node dist/bench/sbx-encode.js INPUT OUTDIR
 */
import * as fs from 'fs';
import * as path from 'path';
import { encodeFile, EncodeOptions } from '../src/sbx/encode';

async function main(): Promise<void> {
  const [input, outDir] = process.argv.slice(2);
  if (!input || !outDir) throw new Error('usage: sbx-encode.js INPUT OUTDIR');
  const size = fs.statSync(input).size;
  const runs: [string, EncodeOptions][] = [
    ['blkfs-encode-v1', { version: 1 }],
    ['blkfs-encode-17/10/2/12', {}],
  ];
  for (const [label, opts] of runs) {
    const out = path.join(outDir, 'bench-output.sbx');
    const t0 = process.hrtime.bigint();
    await encodeFile(input, out, opts);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    fs.rmSync(out);
    console.log(`${label} ${s.toFixed(3)} ${(size / 1e6 / s).toFixed(1)}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
