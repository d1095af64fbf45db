#!/usr/bin/env bash
# bench/huge-pages (issue 9, prints figures; asserts nothing): what glibc's malloc on transparent huge pages
# (GLIBC_TUNABLES glibc.malloc.hugetlb=1, which `blkfs mount` gives its server: src/fuse/server-preloads.ts) does to
# `blkfs acquire` of a fresh mount: its wall time, the server's CPU time and its minor page faults, against the same
# build whose server is started with glibc.malloc.hugetlb=0 (a user's own setting wins), in alternating rounds. One
# nbdkit (-r, file plugin, page-cached random image) serves both; the mount log says what each server got.
# Usage: bench/huge-pages.sh [ROUNDS (7)] [SIZE_MIB (512)]   env QUIET_MEMORY=1 (bench/lib/quiet-memory.sh). Needs
# root (FUSE), nbdkit. Build first (npx tsc -p .; sh scripts/build-native.sh). Mounts and stops only what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-7}
MIB=${2:-512}
BLKFS=(node "$PWD/dist/src/cli/main.js")
T=$(mktemp -d "${TMPDIR:-/tmp}/blkfs-bench-huge.XXXXXX")
NK=""
# shellcheck source=bench/lib/quiet-memory.sh
. bench/lib/quiet-memory.sh
cleanup() {
  set +e
  quiet_memory_end
  grep -q " $T/mnt " /proc/self/mountinfo && "${BLKFS[@]}" umount "$T/mnt" >/dev/null 2>&1
  [ -n "$NK" ] && kill "$NK" 2>/dev/null && wait "$NK" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
mkdir "$T/mnt"
head -c $((MIB << 20)) /dev/urandom >"$T/medium.img"
cat "$T/medium.img" >/dev/null
nbdkit -r -f -U "$T/nbd.sock" file "$T/medium.img" &
NK=$!
for _ in $(seq 100); do [ -S "$T/nbd.sock" ] && break; sleep 0.05; done
URI="nbd+unix:///?socket=$T/nbd.sock"
field() { awk -v n="$2" '{ print $n }' "/proc/$1/stat"; }      # 10: minflt, 14/15: utime/stime in ticks
HZ=$(getconf CLK_TCK)
# One acquisition of a fresh mount whose server has GLIBC_TUNABLES=$1: "WALL_S SERVER_CPU_S MINFLT".
acquire() {
  local sp t0 t1 f0 c0
  rm -rf "$T/cache"
  sp=$(env GLIBC_TUNABLES="$1" "${BLKFS[@]}" mount "$URI" "$T/mnt" --cache "$T/cache" 2>&1 | sed -n 's/.*server pid \([0-9]*\).*/\1/p')
  grep -q "memory: $1 " "$T/cache/mount.log" || { echo "bench/huge-pages: the server did not start with $1" >&2; exit 2; }
  sync
  f0=$(field "$sp" 10); c0=$(( $(field "$sp" 14) + $(field "$sp" 15) )); t0=$(date +%s.%N)
  "${BLKFS[@]}" acquire -q "$T/mnt" >/dev/null 2>&1
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" -v c=$(( $(field "$sp" 14) + $(field "$sp" 15) - c0 )) -v hz="$HZ" -v f=$(( $(field "$sp" 10) - f0 )) \
    'BEGIN { printf "%.3f %.2f %d\n", b - a, c / hz, f }'
  "${BLKFS[@]}" umount "$T/mnt" >/dev/null
}
quiet_memory_start
echo "bench/huge-pages: blkfs acquire of a ${MIB} MiB page-cached random image, fresh mount each time, $ROUNDS rounds; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  $MEMORY_NOTE; transparent huge pages: $(sed 's/.*\[\(.*\)\].*/\1/' /sys/kernel/mm/transparent_hugepage/enabled)"
ROWS="$T/rows"
: >"$ROWS"
for r in $(seq "$ROUNDS"); do
  on=$(acquire glibc.malloc.hugetlb=1)
  off=$(acquire glibc.malloc.hugetlb=0)
  echo "on $on" >>"$ROWS"
  echo "off $off" >>"$ROWS"
  echo "round $r: huge pages (wall s, server CPU s, faults) $on | without $off"
done
# Medians per column, and the ratios.
awk '
  function median(list,   n, x, i, j, t) {
    n = split(list, x, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && x[j - 1] + 0 > x[j] + 0; j--) { t = x[j]; x[j] = x[j - 1]; x[j - 1] = t }
    return (n % 2) ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2
  }
  { w[$1] = w[$1] " " $2; c[$1] = c[$1] " " $3; f[$1] = f[$1] " " $4 }
  END {
    printf "medians: huge pages  wall %.3f s, server CPU %.2f s, %d faults\n", median(w["on"]), median(c["on"]), median(f["on"])
    printf "         without     wall %.3f s, server CPU %.2f s, %d faults\n", median(w["off"]), median(c["off"]), median(f["off"])
    printf "         ratio (huge pages / without): wall %.2f, server CPU %.2f, faults %.2f\n", median(w["on"]) / median(w["off"]), median(c["on"]) / median(c["off"]), median(f["on"]) / median(f["off"])
  }' "$ROWS"
