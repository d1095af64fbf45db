// Which error a READ ends with when several failed: its error chunks, or the pieces of a read split at the
// server's maximum block size. What is known about the sectors decides: a lost source says nothing about them, a
// transient failure of the server (ENOMEM…) gives no verdict, and a medium error names the first bad byte.
import { MediaError, TransientReadError } from '../block-source';

/** Several error chunks for one read: a lost source wins, then a transient failure (no verdict), else the lowest failing offset. */
export function worseError(current: Error | undefined, next: Error): Error {
  if (!current) return next;
  if (current instanceof TransientReadError && !(next instanceof MediaError) && !(next instanceof TransientReadError)) return next;
  if (!(current instanceof MediaError)) return current;
  if (!(next instanceof MediaError)) return next;
  return next.offset < current.offset ? next : current;
}

/** One error for a split read: a lost source wins (nothing is known about the sectors), then a transient failure, else the first bad byte. */
export function pickError(errors: Error[], offset: number, length: number): Error {
  const lost = errors.find((e) => !(e instanceof MediaError) && !(e instanceof TransientReadError));
  if (lost) return lost;
  const transient = errors.find((e): e is TransientReadError => e instanceof TransientReadError);
  if (transient) return new TransientReadError(offset, length, transient.errnoName, transient.message);
  const first = (errors as MediaError[]).reduce((a, b) => (b.offset < a.offset ? b : a));
  const end = offset + length;
  const at = Math.max(first.offset, offset);
  // Outside the asked range only when the server's minimum block size widened the read.
  if (at >= end) return new MediaError(offset, length, first.errno, first.message);
  return at === first.offset && first.offset + first.length <= end
    ? first
    : new MediaError(at, Math.min(first.offset + first.length, end) - at, first.errno, first.message);
}
