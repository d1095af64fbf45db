// The readahead window's bounds, in a module without imports so that the CLI can check --readahead without loading
// the cache.

/** Largest window accepted: prefetched bytes are held in memory until committed, so the window is bounded. */
export const MAX_READAHEAD_BYTES = 32 * 1024 * 1024;

/** `blkfs mount`'s window when --readahead is not given (0 turns readahead off). */
export const DEFAULT_READAHEAD_BYTES = 4 * 1024 * 1024;
