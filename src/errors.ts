// Every error blkfs raises on purpose carries the exit code the CLI ends with (blkar's convention):
// 0 ok, 1 bad user input, 2 failure during the operation; a run stopped by a signal, 128 + its number, as a shell
// reports it (130 for Ctrl-C). Imports nothing of ours, so every layer may extend it, and renaming a class can never
// change an exit code.
import { constants } from 'os';

export const EXIT_OK = 0;
export const EXIT_USER_ERROR = 1;
export const EXIT_FAILURE = 2;

export abstract class BlkfsError extends Error {
  abstract readonly exitCode: number;
}

/** Bad user input: wrong option, missing file, malformed container or mapfile given by the user. */
export class UserError extends BlkfsError {
  readonly exitCode = EXIT_USER_ERROR;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UserError';
  }
}

/** Something failed while the operation ran (I/O error, device lost, disk full). */
export class OperationError extends BlkfsError {
  readonly exitCode = EXIT_FAILURE;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OperationError';
  }
}

/** A run stopped by Ctrl-C (SIGINT), SIGTERM or SIGHUP (src/stop-signals.ts), its output kept as after a failure. */
export class Interrupted extends BlkfsError {
  readonly exitCode: number;
  constructor(readonly signal: NodeJS.Signals) {
    super(`Interrupted (${signal})`);
    this.name = 'Interrupted';
    this.exitCode = 128 + constants.signals[signal];
  }
}

/** The exit code for anything thrown: its own, or 2 for errors nobody classified (a bug or a raw I/O error). */
export function exitCodeOf(err: unknown): number {
  return err instanceof BlkfsError ? err.exitCode : EXIT_FAILURE;
}
