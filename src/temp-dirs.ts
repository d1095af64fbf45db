// Temporary directories named after the process that made them (PREFIX-PID-XXXXXX). A process that dies with one
// (SIGKILL, a crash: its clean-up never ran) leaves it behind; the next process that makes one of the same kind
// removes it, instead of the litter staying in the temporary directory for ever. Only directories this user owns
// are touched: in a shared /tmp another user's entry of the same name, even a symlink, is never followed or removed.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { processExists } from './proc-fds';

/**
 * How a dead process's directory of this kind is removed: 'tree' with everything in it (files only, never a mount);
 * 'empty' only when it holds nothing but empty directories (rmdir: a mountpoint is never reached into).
 */
export type Leftovers = 'tree' | 'empty';

/** A new directory `${prefix}PID-XXXXXX` in `base`, readable by this user only (mkdtemp's 0700). */
export async function makeOwnedTempDir(prefix: string, leftovers: Leftovers, base = os.tmpdir()): Promise<string> {
  await removeLeftovers(prefix, leftovers, base);
  return fs.promises.mkdtemp(path.join(base, `${prefix}${process.pid}-`));
}

async function removeLeftovers(prefix: string, leftovers: Leftovers, base: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.promises.readdir(base);
  } catch {
    return;
  }
  const uid = process.getuid?.();
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = /^(\d+)-[^-]+$/.exec(name.slice(prefix.length))?.[1];
    if (pid === undefined || processExists(Number(pid))) continue;
    const dir = path.join(base, name);
    try {
      const st = await fs.promises.lstat(dir);
      if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) continue;
      if (leftovers === 'tree') {
        await fs.promises.rm(dir, { recursive: true, force: true });
      } else {
        for (const sub of await fs.promises.readdir(dir)) await fs.promises.rmdir(path.join(dir, sub));
        await fs.promises.rmdir(dir);
      }
    } catch {
      // Gone meanwhile (another process removed it), or not empty: litter, never a reason to fail.
    }
  }
}
