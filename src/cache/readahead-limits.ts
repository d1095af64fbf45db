// The readahead window's bounds, in a module without imports so that the CLI can check --readahead without loading
// the cache.

/** Largest window accepted: prefetched bytes are held in memory until committed, so the window is bounded. */
export const MAX_READAHEAD_BYTES = 32 * 1024 * 1024;

/**
 * Smallest window other than 0 (off): prefetching goes by half the window at a time, so a tinier one sends a
 * request per sector or two (a 2048-byte CD sector, a 4 KiB one) and buys nothing; 64 KiB is half the kernel's
 * own default readahead.
 */
export const MIN_READAHEAD_BYTES = 64 * 1024;

/** `blkfs mount`'s window when --readahead is not given (0 turns readahead off). */
export const DEFAULT_READAHEAD_BYTES = 4 * 1024 * 1024;
