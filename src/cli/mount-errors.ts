// The mount-side commands' failures as exit codes. Errors of ours carry their own code (src/errors.ts); this
// only decides the cases that depend on context: a SOURCE that cannot be reached at mount time is the
// user's input, like a missing device; raw errors from Node are classified by their errno.
import { BlkfsError, OperationError, UserError } from '../errors';
import { SourceLostError, TransientReadError } from '../source/block-source';
import { NbdkitStartError } from '../source/nbd/nbdkit-process';
import { NbdProtocolError } from '../source/nbd/nbd-protocol';
import { MapfileError } from '../cache/mapfile';

/** Connecting to an NBD URI the user gave: nothing listens there. */
const USER_CONNECT_CODES = new Set(['ENOENT', 'ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'EACCES']);

export function classifyMountError(err: unknown, context: { startup?: boolean } = {}): BlkfsError {
  const message = describe(err);
  // An NBD server that refuses the export, wants TLS, or breaks the protocol before anything was read is the
  // server the user named, like one that is not there (a protocol error later is a lost source: exit 2).
  if (context.startup && (err instanceof SourceLostError || err instanceof NbdkitStartError || err instanceof NbdProtocolError)) {
    return new UserError(message, { cause: err });
  }
  // At startup the reads are the identity probe's: a guess made without them could pick another medium's cache.
  if (context.startup && err instanceof TransientReadError) {
    return new OperationError(`cannot identify the medium: ${message} (a passing failure of the server, not a bad sector: try again once it reads)`, { cause: err });
  }
  if (err instanceof UserError || err instanceof OperationError) return err;
  if (err instanceof BlkfsError) return err.exitCode === 1 ? new UserError(message, { cause: err }) : new OperationError(message, { cause: err });
  const e = err as { code?: string };
  if (e?.code && USER_CONNECT_CODES.has(e.code)) return new UserError(message, { cause: err });
  if (e?.code === 'ENOSPC' || e?.code === 'EDQUOT' || /SQLITE_FULL|database or disk is full/i.test(message)) {
    return new OperationError(`cache disk full: ${message}`, { cause: err });
  }
  return new OperationError(message, { cause: err });
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err instanceof MapfileError && !err.message.includes(`line ${err.line}`)) return `mapfile line ${err.line}: ${err.message}`;
  return err.message;
}
