// Run by `blkfs status` (status.ts) as a child process: prints the finds of /rescued/ of a mount as JSON, one entry
// per UID with its files. A child, because a listing there can wait in the kernel, uninterruptibly, for as long as
// another program's lookup there waits for the medium; a child left waiting does not hold up the command's exit,
// where a read on Node's thread pool would (the pool's threads are joined at exit).
import * as fs from 'fs';
import * as path from 'path';

const dir = process.argv[2];
const names = (d: string): string[] => {
  try {
    return fs.readdirSync(d).sort();
  } catch {
    return [];
  }
};
process.stdout.write(JSON.stringify(names(dir).map((uid) => ({ uid, files: names(path.join(dir, uid)) }))));
