#!/usr/bin/env bash
# bench/cpu-placement (issue 9, prints figures; asserts nothing): how much of a small-request reader's time is the
# hand-offs between CPUs. `ddrescue -d -b512` reads 64 KiB per request, and each request crosses threads: the
# reader, a libfuse thread, the server's event loop (blkfs: fuse-native) or libnbd's (nbdfuse), and back. Waking a
# thread on another, idle CPU costs far more in a VM than on the same CPU. Each FUSE server is read warm (/raw with
# every byte cached; nbdfuse of a page-cached nbdkit export) with three placements, set with taskset:
#   free:  as a user runs it (the scheduler places every thread);
#   split: the server's threads on CPU 0, ddrescue on CPU 1;
#   same:  the server's threads and ddrescue on CPU 0.
# Best of REPEAT runs each, placements alternating. Usage: bench/cpu-placement.sh [SIZE_MIB (512)]   env REPEAT (3).
# Needs root (FUSE), 2 or more CPUs, taskset, nbdkit, nbdfuse, ddrescue. Build first (npm run build).
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-512}
REPEAT=${REPEAT:-3}
BLKFS=(node "$PWD/dist/src/cli/main.js")
T=$(mktemp -d "${TMPDIR:-/tmp}/blkfs-bench-cpu.XXXXXX")
NK=""
NF=""
cleanup() {
  set +e
  grep -q " $T/mnt " /proc/self/mountinfo && "${BLKFS[@]}" umount "$T/mnt" >/dev/null 2>&1
  grep -q " $T/nbdf " /proc/self/mountinfo && fusermount3 -u "$T/nbdf"
  [ -n "$NF" ] && wait "$NF" 2>/dev/null
  [ -n "$NK" ] && kill "$NK" 2>/dev/null && wait "$NK" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
[ "$(nproc)" -ge 2 ] || { echo "cpu-placement: needs 2 CPUs or more" >&2; exit 1; }
mkdir "$T/mnt" "$T/nbdf"
head -c $((MIB << 20)) /dev/urandom >"$T/medium.img"
cat "$T/medium.img" >/dev/null
URI="nbd+unix:///?socket=$T/nbd.sock"
nbdkit -r -f -U "$T/nbd.sock" file "$T/medium.img" &
NK=$!
for _ in $(seq 100); do [ -S "$T/nbd.sock" ] && break; sleep 0.05; done

"${BLKFS[@]}" mount "$URI" "$T/mnt" --cache "$T/cache" >/dev/null 2>&1
BLKFS_PID=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).server.pid)' "$T/mnt/status")
dd if="$T/mnt/raw" of=/dev/null bs=1M status=none # every byte cached: what follows is the FUSE path alone
nbdfuse -r -P "$T/nbdfuse.pid" "$T/nbdf" "$URI" >/dev/null 2>&1 &
NF=$!
for _ in $(seq 100); do [ -s "$T/nbdfuse.pid" ] && [ -e "$T/nbdf/nbd" ] && break; sleep 0.05; done
NBDFUSE_PID=$(cat "$T/nbdfuse.pid")
sleep 5 # the image checksums and the block scan catch up on the cold read (they wait while it reads fast)

declare -A BEST=()
# Seconds of ddrescue -d -b512 of FILE with the server SERVER_PID placed as PLACEMENT.
run() {
  local file=$1 pid=$2 placement=$3 pin=() t0 t1
  taskset -a -p -c 0-$(($(nproc) - 1)) "$pid" >/dev/null
  case $placement in
    split) taskset -a -p -c 0 "$pid" >/dev/null && pin=(taskset -c 1) ;;
    same) taskset -a -p -c 0 "$pid" >/dev/null && pin=(taskset -c 0) ;;
  esac
  rm -f "$T/out.img" "$T/out.map"
  sync
  t0=$(date +%s.%N)
  ${pin[@]+"${pin[@]}"} ddrescue -d -b512 "$file" "$T/out.img" "$T/out.map" >/dev/null 2>&1
  t1=$(date +%s.%N)
  taskset -a -p -c 0-$(($(nproc) - 1)) "$pid" >/dev/null
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
for _ in $(seq "$REPEAT"); do
  for placement in free split same; do
    for who in blkfs nbdfuse; do
      if [ "$who" = blkfs ]; then s=$(run "$T/mnt/raw" "$BLKFS_PID" "$placement"); else s=$(run "$T/nbdf/nbd" "$NBDFUSE_PID" "$placement"); fi
      key="$who $placement"
      BEST[$key]=$(awk -v a="${BEST[$key]:-}" -v b="$s" 'BEGIN { print (a == "" || b < a) ? b : a }')
    done
  done
done
echo "bench/cpu-placement: ddrescue -d -b512 of a warm ${MIB} MiB FUSE file, best of $REPEAT ($(nproc) CPUs)"
printf '  %-44s %8s %8s %8s\n' "" free split same
for who in blkfs nbdfuse; do
  label=$([ "$who" = blkfs ] && echo "blkfs /raw (every byte cached)" || echo "nbdfuse -r of the page-cached export")
  printf '  %-44s %7ss %7ss %7ss\n' "$label" "${BEST[$who free]}" "${BEST[$who split]}" "${BEST[$who same]}"
done
awk -v b="${BEST[blkfs free]}" -v n="${BEST[nbdfuse free]}" -v bs="${BEST[blkfs same]}" -v ns="${BEST[nbdfuse same]}" \
  'BEGIN { printf "  blkfs against nbdfuse: %.2fx placed freely, %.2fx both on one CPU\n", n / b, ns / bs }'
