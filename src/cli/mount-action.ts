// Runs a mount-side command body: prints an error as `blkfs: message` and exits with its code
// (1 bad user input, 2 failure during the operation), so no command needs its own try/catch.
import { classifyMountError } from './mount-errors';

export function mountAction<A extends unknown[]>(body: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await body(...args);
    } catch (err) {
      const e = classifyMountError(err);
      process.stderr.write(`blkfs: ${e.message}\n`);
      process.exit(e.exitCode);
    }
  };
}
