#!/usr/bin/env bash
# Crash torture (see bench/crash-torture.ts): SIGKILL of the mount server at random moments during acquisition and
# reads, then of export / import / archive / an /sbx read. Prints findings; exit 1 when a rule was broken.
# Usage: bench/crash-torture.sh [ROUNDS=30] [SIZE_MIB=64] [SEED]   (FUSE, nbdkit, ddrescue; RDELAY=10ms per request)
set -euo pipefail
cd "$(dirname "$0")/.."
exec node dist/bench/crash-torture.js "$@"
