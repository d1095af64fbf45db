#!/usr/bin/env bash
# File report join: DVD-sized medium, 10,000 files, 10,000 bad extents (full join, update, render), TSK layout time.
set -euo pipefail
cd "$(dirname "$0")/.."
node dist/bench/files-join.js
