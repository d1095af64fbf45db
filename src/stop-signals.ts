// Ctrl-C (SIGINT), SIGTERM and SIGHUP caught while an output is written, so that a stopped run ends as a failed one
// does (its output kept, a message) instead of leaving OUT.blkfs-partial.PID behind, and then ends of that signal (a
// shell reports 128 + its number). A leaf: imports only errors.ts.
import { constants } from 'os';
import { Interrupted } from './errors';

/** The signals that ask a command to stop (a terminal's Ctrl-C, kill, the terminal closed). */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export interface CaughtStopSignals {
  /** Aborted (its reason: Interrupted) by the first stop signal: a writer that owns its file stops on it. */
  readonly signal: AbortSignal;
  /**
   * `work`'s outcome, or Interrupted as soon as a stop signal comes (or came): also while `work` waits on an input
   * that may never answer (a pipe nobody feeds, a stalled medium). `work` goes on unwatched; the process is to end.
   */
  race<T>(work: Promise<T>): Promise<T>;
  /** The error a run that failed with `err` ends with: Interrupted once a stop signal came, else `err`. */
  endingError(err: unknown): unknown;
  /**
   * Stops catching. A signal that came while nothing was told of it (the output was being renamed) is raised again:
   * its default action ends the process, the output being whole.
   */
  release(): void;
}

/** Catches the stop signals until release(): the first one aborts `signal`; later ones are ignored meanwhile. */
export function catchStopSignals(): CaughtStopSignals {
  const stop = new AbortController();
  let told = false;
  let wake: (() => void) | undefined;
  const interrupted = (): Interrupted => {
    told = true;
    return stop.signal.reason as Interrupted;
  };
  const onSignal = (sig: NodeJS.Signals) => {
    if (stop.signal.aborted) return;
    stop.abort(new Interrupted(sig));
    wake?.();
  };
  for (const sig of STOP_SIGNALS) process.on(sig, onSignal);
  return {
    signal: stop.signal,
    async race<T>(work: Promise<T>): Promise<T> {
      const stopped = new Promise<never>((_, reject) => {
        wake = () => reject(interrupted());
        if (stop.signal.aborted) wake();
      });
      try {
        return await Promise.race([work, stopped]);
      } finally {
        wake = undefined;
      }
    },
    endingError: (err) => (stop.signal.aborted ? interrupted() : err),
    release() {
      for (const sig of STOP_SIGNALS) process.off(sig, onSignal);
      if (stop.signal.aborted && !told) process.kill(process.pid, (stop.signal.reason as Interrupted).signal);
    },
  };
}

/**
 * Ends the process of `signal`, its default action, once a stopped run has kept its output and said so: a shell reports
 * 128 + its number (130 for Ctrl-C), and a script running the command stops too. Not process.exit(): it first waits for
 * the reads still under way (Node's thread pool), for ever on a FIFO nobody feeds or a stalled medium.
 */
export function endOfSignal(signal: NodeJS.Signals): never {
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
  return process.exit(128 + constants.signals[signal]); // the signal is ignored (nohup): the same status
}

/** `work`'s outcome, or `signal`'s reason as soon as it aborts (a read that may never answer is left behind). */
export function unlessAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
