/**
 * Loaded into the CLI by bench/fuzz-inputs.ts (`node -r dist/bench/fuzz-preload.js dist/src/cli/main.js ...`):
 * every error the CLI turns into an exit code passes through exitCodeOf, so wrapping it shows the errors nobody
 * classified (a TypeError from a parser is a bug, even when it ends with the "right" exit code 2).
 */
import type * as Errors from '../src/errors';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const errors = require('../src/errors') as typeof Errors & { exitCodeOf: (err: unknown) => number };
const original = errors.exitCodeOf;

errors.exitCodeOf = (err: unknown): number => {
  const systemError = typeof (err as { syscall?: unknown } | null)?.syscall === 'string';
  if (!(err instanceof errors.BlkfsError) && !systemError) {
    const text = err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err);
    process.stderr.write(`FUZZ-UNCLASSIFIED ${text.split('\n').slice(0, 6).join(' | ')}\n`);
  }
  return original(err);
};
