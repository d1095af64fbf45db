// blkar's exit codes, shared by every blkfs command: 0 ok, 1 bad user input, 2 failure during the operation.
export const EXIT_OK = 0;
export const EXIT_USER_ERROR = 1;
export const EXIT_FAILURE = 2;

/** Bad user input: wrong option, missing file, malformed container or mapfile given by the user. */
export class UserError extends Error {
  readonly exitCode = EXIT_USER_ERROR;
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

/** Something failed while the operation ran (I/O error, device lost, disk full). */
export class OperationError extends Error {
  readonly exitCode = EXIT_FAILURE;
  constructor(message: string) {
    super(message);
    this.name = 'OperationError';
  }
}

export function exitCodeOf(err: unknown): number {
  if (err instanceof UserError || err instanceof OperationError) return err.exitCode;
  return EXIT_FAILURE;
}
