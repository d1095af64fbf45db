// Human byte counts and durations, as ddrescue prints them (decimal prefixes: 1 kB = 1000 B).
const PREFIXES = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'];

export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  let v = n;
  let i = 0;
  while (v >= 1000 && i < PREFIXES.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)} ${PREFIXES[i]}`;
}

export function formatPercent(part: number, whole: number): string {
  if (whole <= 0) return '0%';
  const p = (100 * part) / whole;
  // Never show 100% before the last byte is there, nor 0% once something is.
  if (p > 99.99 && part < whole) return '99.99%';
  if (p < 0.01 && part > 0) return '<0.01%';
  return `${p.toFixed(2).replace(/\.?0+$/, '')}%`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'unknown';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

export function hexPos(n: number): string {
  return '0x' + n.toString(16).toUpperCase().padStart(8, '0');
}
