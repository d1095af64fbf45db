// Ranges [start, end) kept as ascending, disjoint lists: the arithmetic the cache's state, the file report and
// /rescued/ share (byte or sector units alike).

/** The ranges merged where they overlap or touch, ascending; empty ones dropped. */
export function mergeRanges(ranges: readonly [number, number][]): [number, number][] {
  const sorted = ranges.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/** The parts of `from` not covered by `minus` (both ascending and disjoint). */
export function subtractRanges(from: readonly [number, number][], minus: readonly [number, number][]): [number, number][] {
  const out: [number, number][] = [];
  let j = 0;
  for (const [a0, b] of from) {
    let a = a0;
    while (j < minus.length && minus[j][1] <= a) j++;
    for (let k = j; k < minus.length && minus[k][0] < b; k++) {
      if (minus[k][0] > a) out.push([a, minus[k][0]]);
      a = Math.max(a, minus[k][1]);
    }
    if (a < b) out.push([a, b]);
  }
  return out;
}
