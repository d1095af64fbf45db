// Placeholder until the mount commands land: registers mount, umount, acquire, import, export.
import { Command } from 'commander';

export function registerMountCommands(_program: Command): void {}
