#!/usr/bin/env bash
# bench/warm-after-cold (issue 9, prints figures; asserts nothing): a copy of warm /raw right after the first cold
# read, while the image checksums would catch up, against the same copy once they are done; two builds alternating.
# Each round per build: a fresh cache, dd bs=1M of cold /raw, at once two dd of warm /raw ("during"), 5 s later two
# more ("after"). Ends with each build's mean of both. Background work that yields to readers makes "during" close
# to "after" (src/cache/background-yield.ts).
# Usage: bench/warm-after-cold.sh [ROUNDS (3)] [SIZE_MIB (512)] [DIST_A (./dist)] [DIST_B]   (root, FUSE, nbdkit)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
MIB=${2:-512}
DISTS=("$(realpath "${3:-dist}")")
[ -n "${4:-}" ] && DISTS+=("$(realpath "$4")")
T=$(mktemp -d "${TMPDIR:-/tmp}/blkfs-bench-warm.XXXXXX")
NK=""
cleanup() {
  set +e
  grep -q " $T/mnt " /proc/self/mountinfo && node "${DISTS[0]}/src/cli/main.js" umount "$T/mnt" >/dev/null 2>&1
  [ -n "$NK" ] && kill "$NK" 2>/dev/null && wait "$NK" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
mkdir "$T/mnt"
head -c $((MIB << 20)) /dev/urandom >"$T/medium.img"
nbdkit -r -f -U "$T/nbd.sock" file "$T/medium.img" &
NK=$!
for _ in $(seq 100); do [ -S "$T/nbd.sock" ] && break; sleep 0.05; done
ms() { local t0 t1; t0=$(date +%s%N); dd if="$T/mnt/raw" of=/dev/null bs=1M status=none; t1=$(date +%s%N); echo $(((t1 - t0) / 1000000)); }
declare -A SUM N
for r in $(seq "$ROUNDS"); do
  for i in "${!DISTS[@]}"; do
    blkfs=(node "${DISTS[$i]}/src/cli/main.js")
    rm -rf "$T/cache"
    "${blkfs[@]}" mount "nbd+unix:///?socket=$T/nbd.sock" "$T/mnt" --cache "$T/cache" >/dev/null 2>&1
    cold=$(ms)
    d1=$(ms) && d2=$(ms)
    sleep 5
    a1=$(ms) && a2=$(ms)
    "${blkfs[@]}" umount "$T/mnt" >/dev/null 2>&1
    echo "round $r build $i (${DISTS[$i]}): cold $cold ms, warm during $d1 $d2 ms, warm after $a1 $a2 ms"
    SUM[$i,d]=$((${SUM[$i,d]:-0} + d1 + d2)) && SUM[$i,a]=$((${SUM[$i,a]:-0} + a1 + a2)) && N[$i]=$((${N[$i]:-0} + 2))
  done
done
for i in "${!DISTS[@]}"; do
  echo "build $i (${DISTS[$i]}): warm dd of $MIB MiB, mean during $((SUM[$i,d] / N[$i])) ms, after $((SUM[$i,a] / N[$i])) ms"
done
