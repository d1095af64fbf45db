// Where the reference tools' byte-exact vectors are: $BLKFS_VECTORS_DIR, else the nearest `shared/vectors` beside
// the checkout or one of its parents (CI clones with shared/ beside the clone; worktrees sit one level deeper).
import * as fs from 'fs';
import * as path from 'path';

function findUpwards(from: string): string | undefined {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'shared', 'vectors');
    if (fs.existsSync(path.join(candidate, 'README.md'))) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

export const VECTORS_DIR: string =
  process.env.BLKFS_VECTORS_DIR ?? findUpwards(__dirname) ?? path.resolve(__dirname, '../../../../shared/vectors');
