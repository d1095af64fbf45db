// Reads nbdkit's log filter output: which byte ranges the device served successfully, to check that no
// sector was ever read twice.
import * as fs from 'fs';

export interface DeviceRead {
  offset: number;
  count: number;
  ok: boolean;
}

export function deviceReads(logFile: string): DeviceRead[] {
  const text = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
  const pending = new Map<string, { offset: number; count: number }>();
  const out: DeviceRead[] = [];
  for (const line of text.split('\n')) {
    const req = /connection=(\d+) Read id=(\d+) offset=(0x[0-9a-f]+) count=(0x[0-9a-f]+)/i.exec(line);
    if (req) {
      pending.set(`${req[1]}/${req[2]}`, { offset: Number(req[3]), count: Number(req[4]) });
      continue;
    }
    const rep = /connection=(\d+) \.\.\.Read id=(\d+) return=(-?\d+)/.exec(line);
    if (rep) {
      const key = `${rep[1]}/${rep[2]}`;
      const r = pending.get(key);
      if (r) out.push({ ...r, ok: rep[3] === '0' });
      pending.delete(key);
    }
  }
  return out;
}

/** Largest number of successful device reads that covered any one sector. */
export function maxReadsPerSector(reads: readonly DeviceRead[], size: number, sectorSize = 512): number {
  const counts = new Uint8Array(Math.ceil(size / sectorSize));
  let max = 0;
  for (const r of reads) {
    if (!r.ok) continue;
    for (let s = Math.floor(r.offset / sectorSize); s < Math.ceil((r.offset + r.count) / sectorSize); s++) {
      counts[s]++;
      if (counts[s] > max) max = counts[s];
    }
  }
  return max;
}
