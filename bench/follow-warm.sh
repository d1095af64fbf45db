#!/usr/bin/env bash
# bench/follow-warm (prints figures; asserts nothing): what the read path's look at the drive costs a warm reader of
# /raw when caches follow the drive (no --cache: each program read may look at the drive, at most every 10 ms,
# src/server/medium-follower.ts). A random image on a read-only loop device (a block device: the dearer look); per
# round and build a fresh cache, one cold cat of /raw, then dd of warm /raw with bs=128k and bs=1M; builds alternate.
# Usage: bench/follow-warm.sh [ROUNDS (3)] [SIZE_MIB (512)] [DIST_A (./dist)] [DIST_B] (root, FUSE, nbdkit, losetup)
# e.g. a build before the look: git worktree add --detach /tmp/old 8d6963b; (cd /tmp/old && ln -s $PWD/node_modules
# && npx tsc -p .); bench/follow-warm.sh 3 512 dist /tmp/old/dist
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
MIB=${2:-512}
DISTS=("$(realpath "${3:-dist}")")
[ -n "${4:-}" ] && DISTS+=("$(realpath "$4")")
T=$(mktemp -d "${TMPDIR:-/tmp}/blkfs-bench-follow.XXXXXX")
LD=""
cleanup() {
  set +e
  for i in "${!DISTS[@]}"; do
    grep -q " $T/mnt$i " /proc/self/mountinfo && node "${DISTS[$i]}/src/cli/main.js" umount "$T/mnt$i" >/dev/null 2>&1
  done
  [ -n "$LD" ] && losetup -d "$LD"
  rm -rf "$T"
}
trap cleanup EXIT
head -c $((MIB << 20)) /dev/urandom > "$T/img"
LD=$(losetup -r -f --show "$T/img")
secs() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); echo "$e - $s" | bc; }
echo "bench/follow-warm: ${MIB} MiB on $LD, no --cache, $ROUNDS rounds"
for round in $(seq "$ROUNDS"); do
  for i in "${!DISTS[@]}"; do
    BIN="${DISTS[$i]}/src/cli/main.js"
    mkdir -p "$T/mnt$i"
    XDG_CACHE_HOME="$T/xdg$i" node "$BIN" mount "$LD" "$T/mnt$i" >/dev/null
    cat "$T/mnt$i/raw" > /dev/null
    a=$(secs dd if="$T/mnt$i/raw" of=/dev/null bs=128k status=none)
    b=$(secs dd if="$T/mnt$i/raw" of=/dev/null bs=1M status=none)
    echo "round $round ${DISTS[$i]}: warm dd bs=128k ${a} s, bs=1M ${b} s"
    node "$BIN" umount "$T/mnt$i" >/dev/null
    rm -rf "$T/xdg$i"
  done
done
