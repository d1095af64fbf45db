#!/usr/bin/env bash
# Stress hunt for rules 1 and 3: one mount of a slow nbdkit medium with bad clusters, read at once by python/node
# preads (buffered and O_DIRECT), dd iflag=direct, ddrescue -d, ddrescue driving the live /mapfile, blkfs acquire,
# /sbx/image.sbx, the views, blkfs status/files and the web page; then a disc swapped under a loop device between
# concurrent readers. Prints counts and findings, not timings; exit 1 when it found a problem.  (root, FUSE)
# Usage: bench/mixed-stress.sh [--mib 128] [--seconds 90] [--rounds 2] [--seed 1] [--part mix|swap|both]
#        KEEP=1 keeps the temp dir (media, reader outputs, nbdkit logs, caches).
set -euo pipefail
cd "$(dirname "$0")/.."
exec node dist/bench/mixed-stress.js "$@"
