// Map pictures at scale: a 2 TB medium with 100,000 bad extents (200,001 extents), rendered as PNG and SVG
// from the extents, and from the mapfile text (parse included), as `blkfs map` and /map.png do.
import { performance } from 'perf_hooks';
import { renderMapfile } from '../src/cache/mapfile';
import { parseMapfile } from '../src/cache/mapfile';
import type { Run, SectorStatus } from '../src/cache/extent-map';
import { ByteExtent, bytesOfRuns, renderMapPng, renderMapSvg } from '../src/map';

const SECTOR = 512;
const SIZE = 2e12;
const BAD = 100_000;
const sectors = Math.floor(SIZE / SECTOR);

const runs: Run<SectorStatus>[] = [];
let s = 0;
const stride = Math.floor(sectors / BAD);
for (let k = 0; k < BAD; k++) {
  const bad = k * stride + Math.floor(stride / 2);
  runs.push({ start: s, count: bad - s, status: k % 3 === 0 ? '?' : '+' });
  runs.push({ start: bad, count: 1 + (k % 8), status: '-' });
  s = bad + 1 + (k % 8);
}
runs.push({ start: s, count: sectors - s, status: '+' });
const extents: ByteExtent[] = runs.map((r) => ({ pos: r.start * SECTOR, size: r.count * SECTOR, status: r.status }));

function time<T>(label: string, fn: () => T, reps = 5): T {
  let out!: T;
  fn(); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) out = fn();
  const ms = (performance.now() - t0) / reps;
  const bytes = typeof out === 'string' ? out.length : Buffer.isBuffer(out) ? out.length : 0;
  console.log(`${label.padEnd(44)} ${ms.toFixed(1).padStart(8)} ms${bytes ? `  (${bytes} bytes)` : ''}`);
  return out;
}

console.log(`medium ${SIZE / 1e12} TB, ${extents.length} extents (${BAD} bad)`);
const opts = { currentPos: SIZE / 2, granule: SECTOR };
time('PNG, 4096 cells (default)', () => renderMapPng(extents, SIZE, opts));
time('PNG, 100,000 cells, 1600 px wide', () => renderMapPng(extents, SIZE, { ...opts, cells: 100_000, width: 1600 }));
time('SVG, 4096 cells', () => renderMapSvg(extents, SIZE, opts));
time('/map.png: cache extents → bytes → PNG', () => renderMapPng(bytesOfRuns(runs, SECTOR, SIZE), SIZE, opts));
const text = renderMapfile(runs, SECTOR, SIZE, { currentPos: SIZE / 2, phase: '?', pass: 1 });
time('mapfile text → parse → PNG (blkfs map)', () => {
  const m = parseMapfile(text);
  return renderMapPng(m.blocks, SIZE, opts);
});
