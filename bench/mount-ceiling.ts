// The FUSE ceiling for bench/mount.sh: one read-only file served from a memory buffer by fuse-native in a
// Node process, with the same mount options as blkfs (direct_io, no timeout) and, when the bench preloads it as
// `blkfs mount` does, the same 1 MiB FUSE requests (src/fuse/fuse-max-pages.c); nothing else in the way.
// With `glue`, the same buffer is served as /raw through blkfs's own FUSE glue and RawView (no cache): the
// difference to the ceiling is the glue's cost, the difference to /raw warm is the cache's.
// Usage: node dist/bench/mount-ceiling.js MOUNTPOINT SIZE_BYTES [glue]   (prints "ready"; unmounts on SIGTERM)
import { randomFillSync } from 'crypto';
import { FuseStat, loadFuse } from '../src/fuse/fuse-binding';
import { FuseMount } from '../src/fuse/fuse-mount';
import { RawView } from '../src/views/raw-view';
import { StaticDirectory } from '../src/views/view';

const [mountpoint, sizeArg, mode] = process.argv.slice(2);
const size = Number(sizeArg);
const data = randomFillSync(Buffer.alloc(size));
if (mode === 'glue') {
  const memory = {
    size,
    sectorSize: 512,
    read: async (o: number, l: number) => ({ data: data.subarray(o, Math.min(size, o + l)) }),
    readInto: async (o: number, target: Buffer) => ({ bytes: data.copy(target, 0, o, Math.min(size, o + target.length)) }),
    commitPending: async () => {},
  };
  void FuseMount.mount(mountpoint, new StaticDirectory().add('raw', new RawView(memory))).then((m) => {
    process.stdout.write('ready\n');
    const stop = () => void m.unmount().then(() => process.exit(0));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
} else {
  serveCeiling();
}

function serveCeiling(): void {
  const Fuse = loadFuse();
  const now = new Date();
  const stat = (mode: number, sz: number): FuseStat => ({ mode, size: sz, nlink: 1, mtime: now, atime: now, ctime: now });

  const fuse = new Fuse(
    mountpoint,
    {
      getattr: (p, cb) => (p === '/' ? cb(0, stat(0o40555, 4096)) : p === '/file' ? cb(0, stat(0o100444, size)) : cb(-2)),
      readdir: (_p, cb) => cb(0, ['file']),
      open: (_p, _f, cb) => cb(0, 1),
      release: (_p, _fd, cb) => cb(0),
      read: (_p, _fd, buf, len, pos, cb) => {
        const n = Math.max(0, Math.min(len, size - pos));
        data.copy(buf, 0, pos, pos + n);
        cb(n);
      },
    },
    { fsname: 'blkfs-ceiling,direct_io', timeout: false },
  );
  fuse.mount((err) => {
    if (err) {
      process.stderr.write(`mount failed: ${err.message}\n`);
      process.exit(1);
    }
    process.stdout.write('ready\n');
  });
  const stop = () => fuse.unmount(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
