#!/usr/bin/env bash
# bench/mount: sequential read MB/s of /raw, cold (nothing cached; nbdkit file source) and warm (fully cached),
# beside the FUSE ceiling (the same reader on a fuse-native file serving a memory buffer from a Node process,
# same mount options) and beside `cat` of the cache's data file. Prints figures; asserts nothing.
# Targets: warm >= 0.8x ceiling, cold >= 0.6x ceiling.   Usage: bench/mount.sh [SIZE_MIB]   (root, FUSE)
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-512}
SIZE=$((MIB << 20))
BLKFS=(node "$PWD/dist/src/cli/main.js")
T=$(mktemp -d "${TMPDIR:-/tmp}/blkfs-bench-mount.XXXXXX")
CEIL_PID=""
cleanup() {
  set +e
  grep -q " $T/mnt " /proc/self/mountinfo && "${BLKFS[@]}" umount "$T/mnt"
  [ -n "$CEIL_PID" ] && kill "$CEIL_PID" 2>/dev/null && wait "$CEIL_PID" 2>/dev/null
  grep -q " $T/ceil " /proc/self/mountinfo && fusermount3 -uz "$T/ceil"
  rm -rf "$T"
}
trap cleanup EXIT
mkdir "$T/mnt" "$T/ceil"

# MB/s of one sequential reader: dd bs=1M (buffered; direct_io passes each 128 KiB request through).
rate() { dd if="$1" of=/dev/null bs=1M 2>&1 | awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") t = $(i-1); printf "%.0f", $1 / t / 1e6 }'; }
# Best of three: single runs on a shared 2-core machine vary by 2x.
best() { local b=0 r; for _ in 1 2 3; do r=$(rate "$1"); (( r > b )) && b=$r; done; echo "$b"; }

head -c "$SIZE" /dev/urandom > "$T/medium.img"

node dist/bench/mount-ceiling.js "$T/ceil" "$SIZE" > "$T/ceil.out" &
CEIL_PID=$!
for _ in $(seq 100); do grep -q ready "$T/ceil.out" 2>/dev/null && break; sleep 0.05; done
ceiling=$(best "$T/ceil/file")
kill "$CEIL_PID"; wait "$CEIL_PID" 2>/dev/null || true; CEIL_PID=""

node dist/bench/mount-ceiling.js "$T/ceil" "$SIZE" glue > "$T/glue.out" &
CEIL_PID=$!
for _ in $(seq 100); do grep -q ready "$T/glue.out" 2>/dev/null && break; sleep 0.05; done
glue=$(best "$T/ceil/raw")
kill "$CEIL_PID"; wait "$CEIL_PID" 2>/dev/null || true; CEIL_PID=""

"${BLKFS[@]}" mount "$T/medium.img" "$T/mnt" --cache "$T/cache" 2>/dev/null
cold=$(rate "$T/mnt/raw")
warm=$(best "$T/mnt/raw")
"${BLKFS[@]}" umount "$T/mnt"
datafile=$(best "$T/cache/data.img")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "bench/mount: sequential read of a ${MIB} MiB medium (dd bs=1M), MB/s"
printf '  %-44s %6s\n' "FUSE ceiling (fuse-native, memory buffer)" "$ceiling"
printf '  %-44s %6s   %sx ceiling\n' "blkfs glue + RawView over memory (no cache)" "$glue" "$(ratio "$glue" "$ceiling")"
printf '  %-44s %6s   %sx ceiling (target >= 0.6)\n' "/raw cold (nbdkit file source, empty cache)" "$cold" "$(ratio "$cold" "$ceiling")"
printf '  %-44s %6s   %sx ceiling (target >= 0.8)\n' "/raw warm (fully cached)" "$warm" "$(ratio "$warm" "$ceiling")"
printf '  %-44s %6s\n' "cat of the cache data file (page cache)" "$datafile"
