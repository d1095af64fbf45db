// The file-name part of a recorded FNM, as blkar 7.2.3+ takes it (#249/#250: never trust directories in FNM):
// Rust's Path::file_name on Unix. Only '/' separates, so a backslash belongs to the name (`a\b.txt`), as it
// does on Linux; empty and '.' components are skipped (`a/b/` and `a/b/.` give `b`); `..` or nothing gives none.

/** FNM reduced to its last path component, or undefined when it has none (`/`, `..`, `a/..`, ``). */
export function fileNamePart(fnm: string): string | undefined {
  const last = fnm
    .split('/')
    .filter((part) => part !== '' && part !== '.')
    .pop();
  return last === undefined || last === '..' ? undefined : last;
}
