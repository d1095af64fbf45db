// The two ways a workflow fails. Workflows never print: they return stats or throw one of these with a message
// for the user (the CLI adds blkar's "Error : " prefix to operation failures).
import { OperationError, UserError } from '../errors';

/** Bad user input detected by a workflow (e.g. output exists without --force): the CLI exits 1. */
export class InputError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** The operation could not be carried out (no reference block, unguessable burst, I/O): the CLI exits 2. */
export class WorkflowError extends OperationError {
  constructor(message: string) {
    super(message);
    this.name = 'WorkflowError';
  }
}
