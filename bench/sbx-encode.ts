/**
 * Bench (prints figures, not a test): encodes INPUT with version 1 and with blkar's defaults
 * (17/10/2/12, SHA-256), each with the render worker (the default on 2+ CPUs) and on one thread, plus
 * Node's own SHA-256 of the file as an in-process reference; one line per run: "<label> <seconds> <MB/s>".
 * With REPEAT=n each figure is the best of n runs (other work on the machine only ever slows a run down);
 * ONLY=label,label runs just those (bench/speed.sh).
 * Usage: node dist/bench/sbx-encode.js INPUT OUTDIR
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { encodeFile, EncodeOptions } from '../src/sbx/encode';

async function sha256File(input: string): Promise<void> {
  const h = createHash('sha256');
  for await (const chunk of fs.createReadStream(input, { highWaterMark: 8 << 20 })) h.update(chunk as Buffer);
  h.digest();
}

async function main(): Promise<void> {
  const [input, outDir] = process.argv.slice(2);
  if (!input || !outDir) throw new Error('usage: sbx-encode.js INPUT OUTDIR');
  const repeat = Math.max(1, Number(process.env.REPEAT ?? 1));
  const size = fs.statSync(input).size;
  const out = path.join(outDir, 'bench-output.sbx');
  const runs: [string, () => Promise<unknown>][] = [
    ['node-sha256-in-process', () => sha256File(input)],
    ['blkfs-encode-v1', () => encodeFile(input, out, { version: 1 })],
    ['blkfs-encode-17/10/2/12', () => encodeFile(input, out, {})],
    ['blkfs-encode-v1-1-thread', () => encodeFile(input, out, { version: 1, renderWorker: false })],
    ['blkfs-encode-17/10/2/12-1-thread', () => encodeFile(input, out, { renderWorker: false } satisfies EncodeOptions)],
  ];
  const only = process.env.ONLY?.split(',');
  for (const [label, run] of runs) {
    if (only && !only.includes(label)) continue;
    let best = Infinity;
    for (let i = 0; i < repeat; i++) {
      const t0 = process.hrtime.bigint();
      await run();
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
      fs.rmSync(out, { force: true });
    }
    console.log(`${label} ${best.toFixed(3)} ${(size / 1e6 / best).toFixed(1)}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
