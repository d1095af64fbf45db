// The "truth" of a test medium for nbdkit's ddrescue filter (`--filter=ddrescue ddrescue-mapfile=FILE`): the
// filter fails reads that touch a '-' block. It only accepts a read inside ONE '+' line, so the map must be
// compacted: one line per run, never adjacent lines of the same status.
export interface BadRange {
  offset: number;
  length: number;
}

/** The image as a rescue leaves it (and blkfs serves it in exports and containers): bad ranges as zeros. */
export function withZeros(image: Buffer, bad: readonly BadRange[]): Buffer {
  const out = Buffer.from(image);
  for (const b of bad) out.fill(0, b.offset, b.offset + b.length);
  return out;
}

const hex = (n: number) => '0x' + n.toString(16).toUpperCase().padStart(8, '0');

/** A ddrescue mapfile of a `size`-byte medium marking `bad` as '-' and the rest '+'. */
export function truthMapfile(size: number, bad: readonly BadRange[]): string {
  const lines = ['# current_pos  current_status  current_pass', '0x00000000     +               1', '#      pos        size  status'];
  let pos = 0;
  for (const b of [...bad].sort((x, y) => x.offset - y.offset)) {
    if (b.offset > pos) lines.push(`${hex(pos)}  ${hex(b.offset - pos)}  +`);
    lines.push(`${hex(b.offset)}  ${hex(b.length)}  -`);
    pos = b.offset + b.length;
  }
  if (pos < size) lines.push(`${hex(pos)}  ${hex(size - pos)}  +`);
  return lines.join('\n') + '\n';
}
