// blkfs's version, in one place: the CLI's --version and what archives record as the tool that made them.
export const BLKFS_VERSION = '0.1.0';
