#!/usr/bin/env node
// The blkfs binary: the mount commands (mount, umount, acquire, import, export) and the blkar toolkit (sbx ...).
import { Command } from 'commander';
import { exitCodeOf } from '../errors';
import { registerMap } from './map';
import { registerMountCommands } from './mount-commands';
import { registerSbxCommands } from './sbx';
import { registerStatus } from './status';
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
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(0);
  });
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      process.stderr.write(`blkfs: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(exitCodeOf(err));
    });
}
