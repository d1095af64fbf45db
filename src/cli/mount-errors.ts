// Which failures of the mount-side commands are the user's input (exit 1) and which happened during the
// operation (exit 2). Errors are recognised by class name so this table does not pull every layer in.
import { OperationError, UserError } from './exit-codes';

const USER_INPUT_ERRORS = new Set([
  'SourceArgError', // missing device, directory as SOURCE, bad URI, bad --block-size
  'MountpointError', // missing, not a directory, in use, not empty
  'CacheMismatchError', // --cache of another medium
  'CacheBusyError', // the cache is held by another blkfs process (e.g. mounted twice)
  'ImportError', // image too short, map beyond the medium
  'MapfileError', // malformed mapfile given to import
  'UserError',
]);

/** Connecting to an NBD URI the user gave: nothing listens there. */
const USER_CONNECT_CODES = new Set(['ENOENT', 'ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'EACCES']);

/** At mount time, a SOURCE that cannot be reached or served (nothing listens at the URI, nbdkit refuses the
 *  device) is the user's input, like a missing device. */
const USER_AT_STARTUP = new Set(['SourceLostError', 'NbdkitStartError']);

export function classifyMountError(err: unknown, context: { startup?: boolean } = {}): UserError | OperationError {
  if (err instanceof UserError || err instanceof OperationError) return err;
  const e = err as { name?: string; message?: string; code?: string; line?: number };
  const message = describe(err);
  if (context.startup && e.name && USER_AT_STARTUP.has(e.name)) return new UserError(message);
  if (e.name && USER_INPUT_ERRORS.has(e.name)) return new UserError(message);
  if (e.code && USER_CONNECT_CODES.has(e.code)) return new UserError(message);
  if (e.code === 'ENOSPC' || e.code === 'EDQUOT' || /SQLITE_FULL|database or disk is full/i.test(message)) {
    return new OperationError(`cache disk full: ${message}`);
  }
  return new OperationError(message);
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const line = (err as { line?: unknown }).line;
  if (err.name === 'MapfileError' && typeof line === 'number' && !err.message.includes(`line ${line}`)) {
    return `mapfile line ${line}: ${err.message}`;
  }
  return err.message;
}
