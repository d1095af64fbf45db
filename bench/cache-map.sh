#!/usr/bin/env bash
# Sector map at scale: a sparse 2 TB medium with 100,000 bad extents (RSS, state size, mapfile render time).
set -euo pipefail
cd "$(dirname "$0")/.."
node dist/bench/cache-map.js
