// Which files `blkfs acquire --files GLOB` means: shell-style patterns over the report's paths.
// `**` spans directories, `*` and `?` stay within one name; "N:/pattern" limits a pattern to filesystem N
// (1-based, as the report numbers them). A pattern without a leading "/" is taken from the root.

export interface FileMatcher {
  matches(fs: number, path: string): boolean;
}

export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      // "/**/" also matches a single "/", and a trailing "/**" the directory's whole subtree.
      if (glob[i + 2] === '/') {
        re += '(?:.*/)?';
        i += 2;
      } else {
        re += '.*';
        i++;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * Why a --files pattern can match nothing whatever the medium holds (empty, "N:" with no pattern, filesystem 0:
 * they are numbered from 1), or undefined when it is fine. Checked as the command line is read: before, "0:/**"
 * silently matched no file.
 */
export function fileGlobProblem(glob: string): string | undefined {
  const m = /^(\d+):(.*)$/s.exec(glob);
  const pattern = m ? m[2] : glob;
  if (m && !(Number(m[1]) >= 1 && Number.isSafeInteger(Number(m[1])))) return `filesystems are numbered from 1 (as blkfs files lists them), not ${m[1]}`;
  if (pattern === '') return 'the pattern is empty';
  return undefined;
}

export function fileMatcher(globs: readonly string[]): FileMatcher {
  const parsed = globs.map((g) => {
    const m = /^(\d+):(.*)$/.exec(g);
    const pattern = m ? m[2] : g;
    return { fs: m ? Number(m[1]) - 1 : undefined, re: globToRegExp(pattern.startsWith('/') ? pattern : `/${pattern}`) };
  });
  return {
    matches: (fs, path) => parsed.some((p) => (p.fs === undefined || p.fs === fs) && p.re.test(path)),
  };
}
