// `blkfs sbx` run as blkar is (synchronously, stdin empty), for the drop-in tests of test/integration/sbx-cli/.
import { spawnSync } from 'child_process';
import * as path from 'path';
import { VECTORS_DIR } from './vectors-dir';

const MAIN = path.resolve(__dirname, '../../src/cli/main.js');

/** A byte-exact reference vector (shared/vectors). */
export const vector = (name: string): string => path.join(VECTORS_DIR, name);

export function sbx(args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, 'sbx', ...args], { input: '', maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout, text: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** A --json run's document with elapsed times zeroed. */
export function json(args: string[], from: 'stdout' | 'stderr' = 'stdout'): { code: number | null; doc: Record<string, unknown> } {
  const r = sbx([...args, '--json']);
  const text = from === 'stdout' ? r.text : r.stderr;
  return { code: r.code, doc: JSON.parse(text.replace(/"(\d\d:\d\d:\d\d)"/g, '"00:00:00"')) };
}
