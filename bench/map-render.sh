#!/usr/bin/env bash
# Map pictures at scale: a 2 TB medium with 100,000 bad extents, PNG and SVG render times.
set -euo pipefail
cd "$(dirname "$0")/.."
node dist/bench/map-render.js
