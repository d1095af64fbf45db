#!/usr/bin/env bash
# The live file report on a large disk (FILES files, default 1,000,000: ~2 min, ~3 GB of memory): per step, its time
# and the longest stretch it held the event loop (what a FUSE read of the mount arriving then waits).
set -euo pipefail
cd "$(dirname "$0")/.."
node --max-old-space-size=8000 dist/bench/files-event-loop.js "${FILES:-1000000}"
