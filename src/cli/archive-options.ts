// Mount options of the archive views (/sbx/image.sbx parameters with blkar's defaults, and --scan), added to
// `blkfs mount` by commands.ts and turned into ArchiveViewOptions for the server.
import { Command } from 'commander';
import type { ArchiveViewOptions } from '../views/sbx/archive-views';
import { UserError } from '../errors';

export interface ArchiveCliOptions {
  sbxVersion?: string;
  rsData?: string;
  rsParity?: string;
  burst?: string;
  hash?: string;
  scan?: boolean;
}

export function addArchiveOptions(mount: Command): Command {
  return mount
    .option('--sbx-version <n>', '/sbx/image.sbx: SBX version 1, 2, 3, 17, 18 or 19 (default 17)')
    .option('--rs-data <n>', '/sbx/image.sbx: Reed-Solomon data shards (default 10)')
    .option('--rs-parity <n>', '/sbx/image.sbx: Reed-Solomon parity shards (default 2)')
    .option('--burst <n>', '/sbx/image.sbx: burst error resistance level (default 12)')
    .option('--hash <type>', '/sbx/image.sbx: hash in the metadata: sha1, sha256, sha512, blake2b-256, blake2b-512, blake2s-128, blake2s-256 (default sha256)')
    .option('--scan', 'acquire the whole medium in the background, so /rescued/ finds every SBX container on it');
}

/** Validated archive options; a malformed value is bad user input (exit 1). */
export async function archiveOptionsOf(opts: ArchiveCliOptions): Promise<ArchiveViewOptions> {
  const { parseImageParams, SbxImageParamsError } = await import('../views/sbx/image-params'); // the SBX format: only for a mount
  try {
    return { params: parseImageParams(opts), scan: opts.scan === true };
  } catch (err) {
    if (err instanceof SbxImageParamsError) throw new UserError(err.message);
    throw err;
  }
}
