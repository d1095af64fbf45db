#!/usr/bin/env node
// The blkfs binary: the mount commands (mount, umount, acquire, import, export) and the blkar toolkit (sbx ...).
import { Command } from 'commander';
import { EXIT_FAILURE, exitCodeOf } from '../errors';
import { registerMap, registerMountCommands, registerStatus } from './commands';
import { registerSbxCommands } from './sbx';
import { BLKFS_VERSION } from '../version';

export function buildProgram(): Command {
  const program = new Command('blkfs')
    .description('FUSE filesystem for disk preservation: every read is kept, each sector is read once')
    .version(BLKFS_VERSION);
  registerMountCommands(program);
  registerSbxCommands(program);
  registerMap(program);
  registerStatus(program);
  return program;
}

if (require.main === module) {
  // A reader that stops early (`blkfs sbx decode c.sbx - | head`) is its own choice, not a crash of ours.
  // Any other write error (a full disk or a failing device under `> file`) fails the command: a workflow waiting
  // on the write reports it itself; otherwise it is said here once, and a run that would end 0 ends 2.
  let stdoutError: NodeJS.ErrnoException | undefined;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    stdoutError ??= err;
  });
  process.on('exit', (code) => {
    if (!stdoutError || code !== 0) return;
    process.stderr.write(`blkfs: cannot write to standard output: ${stdoutError.message}\n`);
    process.exitCode = EXIT_FAILURE;
  });
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      process.stderr.write(`blkfs: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(exitCodeOf(err));
    });
}
