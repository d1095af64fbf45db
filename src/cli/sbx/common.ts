// Report pieces several `blkfs sbx` commands share (blkar prints the same blocks in several modes).
import { InputError, WorkflowError } from '../../sbx/workflow-common';
import { MetadataTooLargeError } from '../../sbx/metadata';
import { EncodeParamError } from '../../sbx/encode';
import { FileTooLargeError } from '../../sbx/container-spec';
import { LayoutParamError } from '../../sbx/layout';
import { OperationError, UserError } from '../exit-codes';
import { hms, Obj } from './report';

/** `"refBlockInfo": {"type": …, "ver": …, "pos": …}` */
export function refBlockInfo(ref: { type: string; version: number; pos: number }): Obj {
  return new Obj().add('type', ref.type).add('ver', ref.version).add('pos', ref.pos);
}

/** The block-check counts `check` and `repair` both report (blkar's labels, in its order). */
export function blockCheckCounts(s: {
  version: number;
  blockSize: number;
  blocksProcessed: number;
  metaBlocksPassed: number;
  dataBlocksPassed: number;
  blocksFailed: number;
}): Obj {
  return new Obj()
    .add('SBX version', s.version)
    .add('Block size used in checking', s.blockSize)
    .add('Number of blocks processed', s.blocksProcessed)
    .add('Number of blocks passed check (metadata)', s.metaBlocksPassed)
    .add('Number of blocks passed check (data)', s.dataBlocksPassed)
    .add('Number of blocks failed check', s.blocksFailed);
}

export function time(seconds: number): string {
  return hms(seconds);
}

/** Workflow errors → the CLI's exit-code classes (1 bad user input, 2 failure during the operation). */
export function classify(err: unknown): unknown {
  if (err instanceof InputError) return new UserError(err.message);
  if (err instanceof MetadataTooLargeError || err instanceof EncodeParamError || err instanceof FileTooLargeError || err instanceof LayoutParamError) {
    return new UserError(err.message);
  }
  if (err instanceof WorkflowError) return new OperationError(err.message);
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === 'object' && typeof e.code === 'string' && typeof e.message === 'string') {
    return new OperationError(e.message);
  }
  return err;
}
