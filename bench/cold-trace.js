// bench/cold-trace (issue 9): a timeline of what a mount server does while a program reads /raw, without touching
// the build. Preloaded into the server (`blkfs mount` starts it with the same node options), it wraps, at run time,
// the NBD client's reads, the data file's writes and fdatasyncs, the state's WAL syncs, the group commits, the
// fixity CRC-32s and the FUSE operations, and records [kind, start ms, end ms, bytes] for each; at exit it writes
// them to $COLD_TRACE_OUT.<pid>.json. Run with a file argument, it summarises one: per kind, how many, busy time
// (union), the most in flight at once, durations; the gaps between the reader's FUSE requests; MB per 50 ms.
// Record:    COLD_TRACE_DIST=$PWD/dist COLD_TRACE_OUT=/tmp/t node -r ./bench/cold-trace.js dist/src/cli/main.js \
//              mount nbd+unix:///?socket=S MNT --cache C; dd if=MNT/raw of=/dev/null bs=1M; blkfs umount MNT
// Summarise: node bench/cold-trace.js /tmp/t.<pid>.json [buckets]
'use strict';
const fs = require('fs');

function record(dist, out) {
  const events = [];
  const now = () => performance.now();
  const rec = (kind, start, bytes) => events.push([kind, start, now(), bytes]);
  const wrap = (proto, name, kind, bytesOf = () => 0) => {
    const original = proto[name];
    proto[name] = function (...args) {
      const start = now();
      const result = original.apply(this, args);
      const bytes = bytesOf(...args);
      Promise.resolve(result).then(() => rec(kind, start, bytes), () => rec(`${kind}!`, start, bytes));
      return result;
    };
  };
  const crcModule = require(`${dist}/src/cache/crc32.js`);
  const crc32 = crcModule.crc32;
  crcModule.crc32 = (data, value) => {
    const start = now();
    const crc = crc32(data, value);
    rec('crc', start, data.length);
    return crc;
  };
  wrap(require(`${dist}/src/source/nbd/nbd-client.js`).NbdClient.prototype, 'sendRead', 'nbd', (_offset, length) => length);
  const { DataFile } = require(`${dist}/src/cache/data-file.js`);
  wrap(DataFile.prototype, 'writeNow', 'write', (_offset, data) => data.length);
  wrap(DataFile.prototype, 'sync', 'dsync');
  wrap(require(`${dist}/src/cache/state-store.js`).StateStore.prototype, 'syncJournal', 'wal');
  wrap(require(`${dist}/src/cache/sector-store.js`).SectorStore.prototype, 'commit', 'commit', (outcomes) => outcomes.length);
  const fuseOps = require(`${dist}/src/fuse/fuse-ops.js`);
  const build = fuseOps.buildFuseOps;
  fuseOps.buildFuseOps = (...args) => {
    const ops = build(...args);
    for (const name of Object.keys(ops)) {
      const op = ops[name];
      if (typeof op !== 'function') continue;
      ops[name] =
        name === 'read'
          ? (path, fd, buf, len, pos, cb) => {
              const start = now();
              op(path, fd, buf, len, pos, (n) => {
                rec(path === '/raw' ? 'fuse' : 'fuse-other', start, len);
                cb(n);
              });
            }
          : (...opArgs) => {
              const start = now();
              const cb = opArgs[opArgs.length - 1];
              opArgs[opArgs.length - 1] = (...r) => {
                rec(`op:${name}`, start, 0);
                cb(...r);
              };
              return op(...opArgs);
            };
    }
    return ops;
  };
  // Event-loop stalls: a 1 ms interval that fired more than 5 ms late.
  let last = now();
  setInterval(() => {
    const t = now();
    if (t - last > 5) events.push(['lag', last, t, 0]);
    last = t;
  }, 1).unref();
  process.on('exit', () => {
    if (events.some((e) => e[0] === 'fuse')) fs.writeFileSync(`${out}.${process.pid}.json`, JSON.stringify(events));
  });
}

function summarise(file, buckets) {
  const events = JSON.parse(fs.readFileSync(file, 'utf8'));
  const reads = events.filter((e) => e[0] === 'fuse').sort((a, b) => a[1] - b[1]);
  if (reads.length === 0) throw new Error(`${file}: no FUSE read of /raw`);
  const t0 = reads[0][1];
  const t1 = Math.max(...reads.map((e) => e[2]));
  const inWindow = events.filter((e) => e[2] >= t0 && e[1] <= t1);
  console.log(`window ${(t1 - t0).toFixed(0)} ms (first to last FUSE read of /raw)`);
  for (const kind of [...new Set(inWindow.map((e) => e[0]))].filter((k) => !k.startsWith('op:'))) {
    const xs = inWindow.filter((e) => e[0] === kind).sort((a, b) => a[1] - b[1]);
    let busy = 0;
    let from = -1;
    let to = -1;
    let bytes = 0;
    for (const [, s, e, b] of xs) {
      bytes += b;
      if (s > to) {
        busy += to - from;
        from = s;
        to = e;
      } else to = Math.max(to, e);
    }
    busy += to - from;
    let open = 0;
    let most = 0;
    for (const [, d] of xs.flatMap(([, s, e]) => [[s, 1], [e, -1]]).sort((a, b) => a[0] - b[0] || a[1] - b[1])) most = Math.max(most, (open += d));
    const ms = xs.map((e) => e[2] - e[1]).sort((a, b) => a - b);
    const at = (q) => ms[Math.min(ms.length - 1, Math.floor(ms.length * q))].toFixed(2);
    console.log(
      `${kind.padEnd(10)} n=${String(xs.length).padStart(5)} busy ${busy.toFixed(0).padStart(5)} ms (${((100 * busy) / (t1 - t0)).toFixed(0)}%)` +
        ` most at once ${most}  median ${at(0.5)} p99 ${at(0.99)} max ${at(1)} ms  ${(bytes / 1e6).toFixed(0)} MB`,
    );
  }
  let gaps = 0;
  for (let i = 1; i < reads.length; i++) gaps += reads[i][1] - reads[i - 1][2];
  const waited = reads.filter((e) => e[2] - e[1] > 1);
  console.log(
    `between the reader's requests ${gaps.toFixed(0)} ms (${((1000 * gaps) / Math.max(1, reads.length - 1)).toFixed(0)} us each); ` +
      `${waited.length} requests waited > 1 ms (${waited.reduce((s, e) => s + e[2] - e[1], 0).toFixed(0)} ms)`,
  );
  if (!buckets) return;
  const mb = (kind, a, b) => inWindow.filter((e) => e[0] === kind && e[2] >= a && e[2] < b).reduce((s, e) => s + e[3], 0) / 1e6;
  const during = (kind, a, b) => inWindow.some((e) => e[0] === kind && e[1] < b && e[2] >= a);
  for (let a = t0; a < t1; a += 50) {
    const b = a + 50;
    const lag = inWindow.filter((e) => e[0] === 'lag' && e[2] >= a && e[2] < b).reduce((s, e) => s + e[2] - e[1], 0);
    console.log(
      `${(a - t0).toFixed(0).padStart(5)} ms  fuse ${mb('fuse', a, b).toFixed(1).padStart(5)}  nbd ${mb('nbd', a, b).toFixed(1).padStart(5)}` +
        `  write ${mb('write', a, b).toFixed(1).padStart(5)} MB  ${during('dsync', a, b) ? 'DSYNC' : '     '} ${during('wal', a, b) ? 'WAL' : '   '}  stalled ${lag.toFixed(0)} ms`,
    );
  }
}

if (require.main === module) {
  if (!process.argv[2]) {
    console.error('usage: node bench/cold-trace.js TRACE.json [buckets]   (record: see the header of this file)');
    process.exit(1);
  }
  summarise(process.argv[2], process.argv[3] === 'buckets');
} else if (process.env.COLD_TRACE_DIST && process.env.COLD_TRACE_OUT) {
  record(process.env.COLD_TRACE_DIST, process.env.COLD_TRACE_OUT);
}
