// Placeholder until the sbx toolkit lands: registers `blkfs sbx encode|decode|...`.
import { Command } from 'commander';

export function registerSbxCommands(_program: Command): void {}
