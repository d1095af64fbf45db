/**
 * SBX / EC-SBX version constants (sbx-format.md §1). Pure data, no I/O.
 */

/** The six container versions: 1–3 plain SeqBox, 17–19 (0x11–0x13) EC-SeqBox with Reed-Solomon. */
export type SbxVersion = 1 | 2 | 3 | 17 | 18 | 19;

/** Every block starts with a 16-byte header: "SBx", version, CRC-16, UID (6), seq (u32 BE). */
export const HEADER_SIZE = 16;

/** Length of the file UID in bytes. */
export const UID_LENGTH = 6;

/** The signature "SBx" (lowercase x). */
export const SIGNATURE: Readonly<Uint8Array> = Uint8Array.of(0x53, 0x42, 0x78);

/** Filler byte for metadata and for the tail of the last data block / padding blocks. */
export const PAD_BYTE = 0x1a;

/** Largest sequence number (u32). */
export const MAX_SEQ = 0xffffffff;

/** Largest block size of any version (v3/v19). */
export const MAX_BLOCK_SIZE = 4096;

/** Smallest block size, also the 128-byte scan step (GCD of all block sizes). */
export const SCAN_STEP = 128;

/** Largest burst level blkar's guesser tries (levels above are never guessed, blkar #213). */
export const MAX_GUESSABLE_BURST = 1000;

/** Type guard: is `n` one of the six version bytes? */
export function isSbxVersion(n: number): n is SbxVersion {
  return n === 1 || n === 2 || n === 3 || n === 17 || n === 18 || n === 19;
}

/** Block size in bytes: 512 (v1/v17), 128 (v2/v18), 4096 (v3/v19). */
export function blockSizeOf(v: SbxVersion): number {
  switch (v) {
    case 1:
    case 17:
      return 512;
    case 2:
    case 18:
      return 128;
    case 3:
    case 19:
      return 4096;
  }
}

/** Payload (data) bytes per block = block size − 16. */
export function dataSizeOf(v: SbxVersion): number {
  return blockSizeOf(v) - HEADER_SIZE;
}

/** True for the Reed-Solomon versions 17, 18, 19 (metadata mandatory, 1 + P copies). */
export function isEcVersion(v: SbxVersion): boolean {
  return v >= 17;
}

/** File extension blkar uses by default: "sbx" for 1–3, "ecsbx" for 17–19. */
export function defaultExtensionOf(v: SbxVersion): string {
  return isEcVersion(v) ? 'ecsbx' : 'sbx';
}
