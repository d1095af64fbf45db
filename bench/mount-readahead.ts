// For bench/mount.sh: /raw of a medium through CachedDevice with a readahead window, on a real FUSE mount with
// blkfs's glue (direct_io), over an nbdkit source, and nothing else (no /sbx block scanner, no control socket).
// It stands in for `blkfs mount --readahead SIZE` until the CLI passes the option; running it with 0 gives the
// same setup without readahead, so the two rows compare like with like.
// Usage: node dist/bench/mount-readahead.js IMAGE MOUNTPOINT CACHE_DIR READAHEAD_BYTES
//   (prints "ready"; on SIGTERM unmounts, closes the cache and prints a JSON line of the cache status)
import { openCache } from '../src/cache/cache-open';
import { FuseMount } from '../src/fuse/fuse-mount';
import { openBlockSource } from '../src/source/nbd/nbd-block-source';
import { parseSourceArg } from '../src/source/source-spec';
import { RawView } from '../src/views/raw-view';
import { StaticDirectory } from '../src/views/view';

async function main(): Promise<void> {
  const [image, mountpoint, cacheDir, readahead] = process.argv.slice(2);
  const source = await openBlockSource(parseSourceArg(image));
  const cache = await openCache({ source, cacheDir, readaheadBytes: Number(readahead) });
  const fuse = await FuseMount.mount(mountpoint, new StaticDirectory().add('raw', new RawView(cache)));
  process.stdout.write('ready\n');
  const stop = async () => {
    await fuse.unmount();
    const st = cache.status();
    await cache.close();
    await source.close();
    process.stdout.write(JSON.stringify(st) + '\n');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

main().catch((e: unknown) => {
  process.stderr.write(`mount-readahead: ${(e as Error).message}\n`);
  process.exit(2);
});
