#!/bin/bash
# Where an acquisition's or a cold read's CPU goes: the mount server's CPU per thread and nbdkit's, and how long
# the server's event loop waited for a core (its run queue), from /proc. On a 2-core machine these compete, so
# wall time follows their sum. Usage: bench/server-cpu.sh [acquire|cold|ddrescue] [SIZE_MIB (256)] [ROUNDS (3)]
# Needs root (FUSE), nbdkit, ddrescue. Build first (npx tsc -p .). Mounts and stops only what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
WHAT=${1:-acquire}
MIB=${2:-256}
ROUNDS=${3:-3}
BLKFS=(node "$PWD/dist/src/cli/main.js")
T=$(mktemp -d "${TMPDIR:-/tmp}/blkfs-bench-cpu.XXXXXX")
NK=""
cleanup() {
  set +e
  grep -q " $T/mnt " /proc/self/mountinfo && "${BLKFS[@]}" umount "$T/mnt" >/dev/null 2>&1
  [ -n "$NK" ] && kill "$NK" 2>/dev/null && wait "$NK" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
mkdir "$T/mnt"
head -c $((MIB << 20)) /dev/urandom >"$T/medium.img"
nbdkit -r -f -U "$T/nbd.sock" file "$T/medium.img" &
NK=$!
for _ in $(seq 100); do [ -S "$T/nbd.sock" ] && break; sleep 0.05; done
ticks() { awk '{ print $14 + $15 }' "$1"; }               # utime + stime, in clock ticks
HZ=$(getconf CLK_TCK)
echo "bench/server-cpu: $WHAT of a ${MIB} MiB page-cached random image through blkfs, $ROUNDS rounds (CPU in seconds)"
for round in $(seq "$ROUNDS"); do
  rm -rf "$T/cache"
  SP=$("${BLKFS[@]}" mount "nbd+unix:///?socket=$T/nbd.sock" "$T/mnt" --cache "$T/cache" 2>&1 | sed -n 's/.*server pid \([0-9]*\).*/\1/p')
  declare -A before=()
  for t in /proc/"$SP"/task/*; do before[$(basename "$t")]=$(ticks "$t/stat"); done
  s0=$(ticks /proc/"$SP"/stat); n0=$(ticks /proc/"$NK"/stat); w0=$(awk '{ print $2 }' /proc/"$SP"/task/"$SP"/schedstat)
  t0=$(date +%s.%N)
  case $WHAT in
    acquire) "${BLKFS[@]}" acquire -q "$T/mnt" 2>/dev/null ;;
    cold) dd if="$T/mnt/raw" of=/dev/null bs=1M status=none ;;
    ddrescue) ddrescue -d -b512 "$T/mnt/raw" "$T/out.img" "$T/out.map" >/dev/null; rm -f "$T/out.img" "$T/out.map" ;;
    *) echo "what: acquire, cold or ddrescue" >&2; exit 1 ;;
  esac
  t1=$(date +%s.%N)
  main=$(( $(ticks /proc/"$SP"/task/"$SP"/stat) - ${before[$SP]} ))
  others=""
  for t in /proc/"$SP"/task/*; do
    id=$(basename "$t"); [ "$id" = "$SP" ] && continue
    d=$(( $(ticks "$t/stat") - ${before[$id]:-0} )); [ "$d" -gt 0 ] && others="$others $(tr -d '\n' <"$t/comm"):$d"
  done
  awk -v t0="$t0" -v t1="$t1" -v s=$(( $(ticks /proc/"$SP"/stat) - s0 )) -v m="$main" -v n=$(( $(ticks /proc/"$NK"/stat) - n0 )) \
    -v w=$(( $(awk '{ print $2 }' /proc/"$SP"/task/"$SP"/schedstat) - w0 )) -v hz="$HZ" -v o="$others" 'BEGIN {
      printf "  round %d: wall %.2f s; server %.2f (event loop %.2f, waited for a core %.2f); nbdkit %.2f; other threads (ticks):%s\n",
        '"$round"', t1 - t0, s / hz, m / hz, w / 1e9, n / hz, o }'
  "${BLKFS[@]}" umount "$T/mnt" >/dev/null
done
