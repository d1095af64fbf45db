// The two ways a workflow fails. Workflows never print: they return stats or throw one of these with a message
// for the user. blkar prints the errors raised inside its workflows (general_error.rs) as "Error : <message>",
// and its command-line checks without a prefix: `blkarPrefixed` tells the printer which is which.
import { OperationError, UserError } from '../errors';

/** Bad user input detected by a workflow (e.g. output exists without --force): the CLI exits 1. */
export class InputError extends UserError {
  /** `blkarPrefixed`: blkar raises this one inside its workflow, so it prints "Error : " before it. */
  constructor(
    message: string,
    readonly blkarPrefixed = false,
  ) {
    super(message);
    this.name = 'InputError';
  }
}

/** The operation could not be carried out (no reference block, unguessable burst, I/O): the CLI exits 2. */
export class WorkflowError extends OperationError {
  readonly blkarPrefixed = true;
  constructor(message: string) {
    super(message);
    this.name = 'WorkflowError';
  }
}
