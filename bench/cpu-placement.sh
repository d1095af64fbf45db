#!/usr/bin/env bash
# bench/cpu-placement (issue 9, prints figures; asserts nothing): what the mount server's CPU placement
# (src/fuse/cpu-placement.c: the request path on one CPU, background work on the others) does to its readers, against
# the same build with BLKFS_CPU_PLACEMENT=off (every thread placed by the scheduler), and beside nbdfuse -r of the
# same export. Each request of a small-request reader (`ddrescue -d -b512`: 64 KiB) crosses threads: the reader, a
# libfuse thread, the server's event loop, and back; waking a thread on another CPU costs far more in a VM than on
# the same CPU, and the cold path's background work (data file writes, nbdkit) keeps the other CPUs busy.
# Per round, each on a fresh cache of a page-cached SIZE_MIB image (one nbdkit -r export, placed by the scheduler):
# ddrescue -d -b512 of cold /raw, then of warm /raw; dd bs=1M of cold /raw; cp of /sbx/image.sbx once the image is
# cached and its hash known. Placements alternate within a round; medians and bests of REPEAT rounds.
# Usage: bench/cpu-placement.sh [SIZE_MIB (512)]   env REPEAT (5). Needs root (FUSE), 2 CPUs or more, nbdkit,
# nbdfuse, ddrescue. Build first (npm run build).
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-512}
REPEAT=${REPEAT:-5}
BLKFS=(node "$PWD/dist/src/cli/main.js")
T=$(mktemp -d "${TMPDIR:-/tmp}/blkfs-bench-cpu.XXXXXX")
NK=""
cleanup() {
  set +e
  grep -q " $T/mnt " /proc/self/mountinfo && "${BLKFS[@]}" umount "$T/mnt" >/dev/null 2>&1
  grep -q " $T/nbdf " /proc/self/mountinfo && fusermount3 -u "$T/nbdf"
  [ -n "$NK" ] && kill "$NK" 2>/dev/null && wait "$NK" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
[ "$(nproc)" -ge 2 ] || { echo "cpu-placement: needs 2 CPUs or more" >&2; exit 1; }
[ -e dist/src/fuse/cpu-placement.so ] || { echo "cpu-placement: dist/src/fuse/cpu-placement.so not built (npm run build)" >&2; exit 1; }
mkdir "$T/mnt" "$T/nbdf"
head -c $((MIB << 20)) /dev/urandom >"$T/medium.img"
cat "$T/medium.img" >/dev/null
URI="nbd+unix:///?socket=$T/nbd.sock"
nbdkit -r -f -U "$T/nbd.sock" file "$T/medium.img" &
NK=$!
for _ in $(seq 100); do [ -S "$T/nbd.sock" ] && break; sleep 0.05; done

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
# Seconds of one run of a command, after writing back what the last one left dirty.
timed() {
  local t0
  sync
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  secs "$t0" "$(date +%s.%N)"
}
declare -A ALL=()
note() { ALL[$1]="${ALL[$1]:-}$2 "; }
# One round of blkfs with placement $1 (on: the default; off: BLKFS_CPU_PLACEMENT=off).
blkfs_round() {
  local env=()
  [ "$1" = off ] && env=(env BLKFS_CPU_PLACEMENT=off)
  rm -rf "$T/cache" "$T/out.img" "$T/out.map"
  ${env[@]+"${env[@]}"} "${BLKFS[@]}" mount "$URI" "$T/mnt" --cache "$T/cache" >/dev/null 2>&1
  note "ddrescue -d -b512 of cold /raw|$1" "$(timed ddrescue -d -b512 "$T/mnt/raw" "$T/out.img" "$T/out.map")"
  rm -f "$T/out.img" "$T/out.map"
  note "ddrescue -d -b512 of warm /raw|$1" "$(timed ddrescue -d -b512 "$T/mnt/raw" "$T/out.img" "$T/out.map")"
  cat "$T/mnt/sbx/image.sbx" >/dev/null # the first copy hashes the image
  note "cp of /sbx/image.sbx (hash known)|$1" "$(timed cp "$T/mnt/sbx/image.sbx" /dev/null)"
  "${BLKFS[@]}" umount "$T/mnt" >/dev/null
  rm -rf "$T/cache"
  ${env[@]+"${env[@]}"} "${BLKFS[@]}" mount "$URI" "$T/mnt" --cache "$T/cache" >/dev/null 2>&1
  note "dd bs=1M of cold /raw|$1" "$(timed dd if="$T/mnt/raw" of=/dev/null bs=1M)"
  "${BLKFS[@]}" umount "$T/mnt" >/dev/null
}
nbdfuse_round() {
  rm -f "$T/nbdfuse.pid" "$T/out.img" "$T/out.map"
  nbdfuse -r -P "$T/nbdfuse.pid" "$T/nbdf" "$URI" >/dev/null 2>&1 &
  local nf=$!
  for _ in $(seq 100); do [ -s "$T/nbdfuse.pid" ] && [ -e "$T/nbdf/nbd" ] && break; sleep 0.05; done
  note "ddrescue -d -b512 through nbdfuse|-" "$(timed ddrescue -d -b512 "$T/nbdf/nbd" "$T/out.img" "$T/out.map")"
  fusermount3 -u "$T/nbdf"
  wait "$nf"
}
for _ in $(seq "$REPEAT"); do
  blkfs_round off
  blkfs_round on
  nbdfuse_round
done
# "median best" of the seconds in $1.
stats() { echo "$1" | tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f %.3f", m, v[1] }'; }
echo "bench/cpu-placement: ${MIB} MiB page-cached image, $REPEAT rounds ($(nproc) CPUs); seconds, median (best)"
printf '  %-38s %17s %17s  %s\n' "" "placement off" "placement on" "on/off (medians)"
for what in "ddrescue -d -b512 of cold /raw" "ddrescue -d -b512 of warm /raw" "dd bs=1M of cold /raw" "cp of /sbx/image.sbx (hash known)"; do
  read -r offm offb <<<"$(stats "${ALL[$what|off]}")"
  read -r onm onb <<<"$(stats "${ALL[$what|on]}")"
  printf '  %-38s %8s (%6s) %8s (%6s)  %.2f\n' "$what" "$offm" "$offb" "$onm" "$onb" "$(awk -v a="$onm" -v b="$offm" 'BEGIN { print a / b }')"
done
read -r nfm nfb <<<"$(stats "${ALL[ddrescue -d -b512 through nbdfuse|-]}")"
read -r cm _ <<<"$(stats "${ALL[ddrescue -d -b512 of cold /raw|on]}")"
read -r coff _ <<<"$(stats "${ALL[ddrescue -d -b512 of cold /raw|off]}")"
printf '  %-38s %8s (%6s)\n' "ddrescue -d -b512 through nbdfuse -r" "$nfm" "$nfb"
awk -v n="$nfm" -v on="$cm" -v off="$coff" 'BEGIN { printf "  cold ddrescue -d of /raw against nbdfuse (medians): %.2fx with the placement, %.2fx without\n", n / on, n / off }'
