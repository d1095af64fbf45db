// The mount-side commands: mount, umount, acquire, import, export (one file each).
import { Command } from 'commander';
import { registerAcquire } from './acquire';
import { registerArchive } from './archive';
import { registerExport } from './export';
import { registerFiles } from './files';
import { registerImport } from './import';
import { registerMount } from './mount';
import { registerUmount } from './umount';
import { registerVerify } from './verify';
import { addArchiveOptions } from './archive-options';

export function registerMountCommands(program: Command): void {
  registerMount(program);
  addArchiveOptions(program.commands.find((c) => c.name() === 'mount') as Command);
  registerUmount(program);
  registerAcquire(program);
  registerImport(program);
  registerExport(program);
  registerArchive(program);
  registerVerify(program);
  registerFiles(program);
}
