// Runs a mount-side command body: prints an error as `blkfs: message` and exits with its code
// (1 bad user input, 2 failure during the operation; stopped by a signal: ends of it), so no command needs its own
// try/catch.
import { Interrupted, type BlkfsError } from '../errors';
import { endOfSignal } from '../stop-signals';

export function mountAction<A extends unknown[]>(body: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await body(...args);
    } catch (err) {
      const e = await classified(err);
      process.stderr.write(`blkfs: ${e.message}\n`);
      if (err instanceof Interrupted) endOfSignal(err.signal); // as a shell reports it: 128 + its number
      process.exit(e.exitCode);
    }
  };
}

/** Loaded only on failure: it needs the NBD, source and mapfile error classes, which no command start should pay for. */
async function classified(err: unknown): Promise<BlkfsError> {
  const { classifyMountError } = await import('./mount-errors');
  return classifyMountError(err);
}
