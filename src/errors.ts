// Every error blkfs raises on purpose carries the exit code the CLI ends with (blkar's convention):
// 0 ok, 1 bad user input, 2 failure during the operation. Imports nothing, so every layer may extend it,
// and renaming a class can never change an exit code.

export const EXIT_OK = 0;
export const EXIT_USER_ERROR = 1;
export const EXIT_FAILURE = 2;

export type ErrorExitCode = typeof EXIT_USER_ERROR | typeof EXIT_FAILURE;

export abstract class BlkfsError extends Error {
  abstract readonly exitCode: ErrorExitCode;
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

/** The exit code for anything thrown: its own, or 2 for errors nobody classified (a bug or a raw I/O error). */
export function exitCodeOf(err: unknown): number {
  return err instanceof BlkfsError ? err.exitCode : EXIT_FAILURE;
}
