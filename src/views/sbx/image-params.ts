// Parameters of /sbx/image.sbx, from mount options. The defaults are blkar 7.2.7's encode defaults
// (version 17, 10 data + 2 parity shards, burst level 12, SHA-256). Unlike blkar's CLI, each option defaults
// on its own (blkar makes --rs-data/--rs-parity mandatory and --burst 0 once --sbx-version is given): a
// mount option that only changes the version keeps the other defaults.
import { digestLengthOf, HashType, parseHashTypeName, DEFAULT_HASH_TYPE } from '../../sbx/format/multihash';
import { encodeMetadataPayload, MetadataTooLargeError } from '../../sbx/format/metadata';
import { IMAGE_CONTAINER_NAME } from './image-identity';
import { isEcVersion, isSbxVersion, MAX_GUESSABLE_BURST, SbxVersion } from '../../sbx/format/specs';
import { UserError } from '../../errors';

export interface SbxImageParams {
  version: SbxVersion;
  /** RS data / parity shards and burst level; 0 / 0 / 0 for versions 1–3. */
  dataShards: number;
  parityShards: number;
  burst: number;
  hash: HashType;
}

export const DEFAULT_IMAGE_PARAMS: Readonly<SbxImageParams> = {
  version: 17,
  dataShards: 10,
  parityShards: 2,
  burst: 12,
  hash: DEFAULT_HASH_TYPE,
};

/** Mount options as the CLI receives them (strings, or numbers when commander parsed them). */
export interface SbxImageOptions {
  sbxVersion?: string | number;
  rsData?: string | number;
  rsParity?: string | number;
  burst?: string | number;
  hash?: string;
}

/** A mount option for the SBX view is malformed (the CLI reports it as bad user input, exit 1). */
export class SbxImageParamsError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'SbxImageParamsError';
  }
}

function integerOption(name: string, value: string | number | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'number' ? value : /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new SbxImageParamsError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(String(value))}`);
  }
  return n;
}

export function parseImageParams(opts: SbxImageOptions = {}): SbxImageParams {
  const v = integerOption('sbx-version', opts.sbxVersion, 1, 19);
  if (v !== undefined && !isSbxVersion(v)) {
    throw new SbxImageParamsError(`--sbx-version must be one of 1, 2, 3, 17, 18, 19, got ${v}`);
  }
  const version: SbxVersion = v ?? DEFAULT_IMAGE_PARAMS.version;
  let hash = DEFAULT_IMAGE_PARAMS.hash;
  if (opts.hash !== undefined) {
    const h = parseHashTypeName(opts.hash);
    if (!h) throw new SbxImageParamsError(`--hash: unknown or unsupported hash type ${JSON.stringify(opts.hash)}`);
    hash = h;
  }
  const d = integerOption('rs-data', opts.rsData, 1, 255);
  const p = integerOption('rs-parity', opts.rsParity, 1, 255);
  const burst = integerOption('burst', opts.burst, 0, MAX_GUESSABLE_BURST);
  if (!isEcVersion(version)) {
    if (d !== undefined || p !== undefined || burst !== undefined) {
      throw new SbxImageParamsError(`--rs-data, --rs-parity and --burst apply to versions 17, 18 and 19 only (version ${version} has no Reed-Solomon)`);
    }
    return checkMetadataFits({ version, dataShards: 0, parityShards: 0, burst: 0, hash });
  }
  const dataShards = d ?? DEFAULT_IMAGE_PARAMS.dataShards;
  const parityShards = p ?? DEFAULT_IMAGE_PARAMS.parityShards;
  if (dataShards + parityShards > 256) {
    throw new SbxImageParamsError(`--rs-data + --rs-parity must not exceed 256 (got ${dataShards} + ${parityShards})`);
  }
  return checkMetadataFits({ version, dataShards, parityShards, burst: burst ?? DEFAULT_IMAGE_PARAMS.burst, hash });
}

/**
 * The metadata block must hold the hash whatever the medium: /sbx/image.sbx shortens its file name to fit, but the
 * other records have fixed sizes (a sha512 digest does not fit a 128-byte block of version 2 or 18).
 */
function checkMetadataFits(params: SbxImageParams): SbxImageParams {
  const { version, hash } = params;
  const fixed = { fnm: 'x', snm: IMAGE_CONTAINER_NAME, fsz: 0, fdt: 0, sdt: 0, hsh: { type: hash, digest: Buffer.alloc(digestLengthOf(hash)) } };
  const rs = isEcVersion(version) ? { rsd: params.dataShards, rsp: params.parityShards } : {};
  try {
    encodeMetadataPayload({ ...fixed, ...rs }, version);
  } catch (err) {
    if (!(err instanceof MetadataTooLargeError)) throw err;
    throw new SbxImageParamsError(
      `--hash ${hash} does not fit the metadata block of a version ${version} container (${err.needed} bytes with a one-letter ` +
        `file name, the block holds ${err.available}): choose a shorter --hash (sha256, blake2s-128) or --sbx-version ${version === 2 ? 1 : 17}`,
    );
  }
  return params;
}
