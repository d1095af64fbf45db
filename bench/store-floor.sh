#!/usr/bin/env bash
# bench/store-floor (issue 9, prints figures; asserts nothing): how much of the gap to the two speed targets still
# not met is the cache's storing. Beside this build it runs a diagnostic copy of it that stores nothing: data file
# writes and fdatasyncs resolve at once and every CRC-32 is 0 (it keeps its SQLite state, the transport from nbdkit,
# the FUSE path and the rest). That copy is never a product: its /raw would serve holes for bytes it did not keep.
# If even it misses a target, the gap lies outside the storing (nbdkit, the NBD client, FUSE, the CLI's start).
# Every round, alternating: nbdcopy of the export to null: and ddrescue image file -> file (the references; and the
# same ddrescue followed by a sync of its image, durable as the cache must be before a sector is +), then
# per build `blkfs acquire` of a fresh cache (the command's wall time, as bench/speed.sh times it) and dd bs=1M of
# cold /raw (default options). One nbdkit (-r, file plugin, page-cached random image) serves them all.
# Usage: bench/store-floor.sh [ROUNDS (5)] [SIZE_MIB (512)]. Needs root (FUSE), nbdkit, nbdcopy, ddrescue. Build
# first (npx tsc -p .). Mounts and stops only what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
MIB=${2:-512}
T=$(mktemp -d "${TMPDIR:-/tmp}/blkfs-bench-floor.XXXXXX")
NK=""
# shellcheck source=bench/lib/quiet-memory.sh
. bench/lib/quiet-memory.sh
cleanup() {
  set +e
  quiet_memory_end
  grep -q " $T/mnt " /proc/self/mountinfo && node "$PWD/dist/src/cli/main.js" umount "$T/mnt" >/dev/null 2>&1
  [ -n "$NK" ] && kill "$NK" 2>/dev/null && wait "$NK" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
mkdir "$T/mnt"

# The diagnostic copy. Each edit must apply exactly once: a build whose code moved on fails here, loudly.
mkdir -p "$T/nostore/dist"
cp -r dist/src "$T/nostore/dist/src"
ln -s "$PWD/node_modules" "$T/nostore/node_modules"
patch_once() { # FILE FROM TO
  local file="$T/nostore/dist/src/$1"
  [ "$(grep -cF -- "$2" "$file")" = 1 ] || { echo "bench/store-floor: cannot make the diagnostic copy: '$2' is not once in $1" >&2; exit 2; }
  FROM=$2 TO=$3 perl -0pi -e 's/\Q$ENV{FROM}\E/$ENV{TO}/' "$file"
}
patch_once cache/data-file.js 'const run = this.writing.then(() => this.writeNow(offset, data));' 'const run = Promise.resolve();'
patch_once cache/data-file.js 'await this.fh.datasync();' ''
patch_once cache/crc32.js 'exports.crc32 = loaded.crc32;' 'exports.crc32 = () => 0;'
BUILDS=("$PWD/dist" "$T/nostore/dist")
LABELS=(blkfs nostore)

head -c $((MIB << 20)) /dev/urandom >"$T/medium.img"
cat "$T/medium.img" >/dev/null
nbdkit -r -f -U "$T/nbd.sock" file "$T/medium.img" &
NK=$!
for _ in $(seq 100); do [ -S "$T/nbd.sock" ] && break; sleep 0.05; done
URI="nbd+unix:///?socket=$T/nbd.sock"
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
# Seconds of one run of a command (output discarded), after the previous step's dirty pages are written back.
timed() {
  local t0
  sync
  t0=$(now)
  "$@" >/dev/null 2>&1
  secs "$t0" "$(now)"
}
# Build $1: "ACQUIRE_SECONDS DD_SECONDS", each on a fresh cache. A dd that copies less than the medium is an error.
runs() {
  local blkfs=(node "$1/src/cli/main.js") acq dd t0 copied
  rm -rf "$T/cache"
  "${blkfs[@]}" mount "$URI" "$T/mnt" --cache "$T/cache" >/dev/null 2>&1
  acq=$(timed "${blkfs[@]}" acquire -q "$T/mnt")
  "${blkfs[@]}" umount "$T/mnt" >/dev/null
  rm -rf "$T/cache"
  "${blkfs[@]}" mount "$URI" "$T/mnt" --cache "$T/cache" >/dev/null 2>&1
  sync
  t0=$(now)
  copied=$(dd if="$T/mnt/raw" of=/dev/null bs=1M 2>&1 | awk '/ copied/ { print $1 }')
  dd=$(secs "$t0" "$(now)")
  [ "$copied" = $((MIB << 20)) ] || { echo "bench/store-floor: dd of $1's /raw copied ${copied:-no} bytes" >&2; exit 2; }
  "${blkfs[@]}" umount "$T/mnt" >/dev/null
  echo "$acq $dd"
}

echo "bench/store-floor: ${MIB} MiB page-cached random image, $ROUNDS rounds; load $(cut -d' ' -f1-3 /proc/loadavg)"
quiet_memory_start
echo "  $MEMORY_NOTE"
ROWS="$T/rows"
: >"$ROWS"
for r in $(seq "$ROUNDS"); do
  nc=$(timed nbdcopy --connections=1 "$URI" null:)
  rm -f "$T/out.img" "$T/out.map"
  ddr=$(timed ddrescue "$T/medium.img" "$T/out.img" "$T/out.map")
  rm -f "$T/out.img" "$T/out.map"
  # The same copy made durable, as blkfs's cache is before a sector is '+' (ddrescue leaves its image in the page cache).
  ddrs=$(timed sh -c "ddrescue '$T/medium.img' '$T/out.img' '$T/out.map' && sync '$T/out.img'")
  rm -f "$T/out.img" "$T/out.map"
  echo "nbdcopy $nc" >>"$ROWS"
  echo "ddrescue-file $ddr" >>"$ROWS"
  echo "ddrescue-synced $ddrs" >>"$ROWS"
  line="round $r: nbdcopy $nc s, ddrescue file->file $ddr s (+ sync $ddrs s)"
  for i in "${!BUILDS[@]}"; do
    read -r acq dd <<<"$(runs "${BUILDS[$i]}")"
    echo "${LABELS[$i]}-acquire $acq" >>"$ROWS"
    echo "${LABELS[$i]}-dd $dd" >>"$ROWS"
    line="$line | ${LABELS[$i]}: acquire $acq s, cold dd $dd s"
  done
  echo "$line"
done
# Medians of each row; the targets as times: acquire <= ddrescue file->file / 0.9, cold dd <= nbdcopy / 0.5.
sort -k1,1 -k2,2n "$ROWS" | awk '
  { v[$1] = v[$1] " " $2 }
  END {
    for (k in v) { n = split(v[k], x, " "); med[k] = (n % 2) ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2; best[k] = x[1] }
    acqT = med["ddrescue-file"] / 0.9; ddT = med["nbdcopy"] / 0.5
    printf "medians (best) in seconds:\n"
    printf "  %-38s %.3f (%.3f)\n", "nbdcopy --connections=1 to null:", med["nbdcopy"], best["nbdcopy"]
    printf "  %-38s %.3f (%.3f)\n", "ddrescue image file -> file", med["ddrescue-file"], best["ddrescue-file"]
    printf "  %-38s %.3f (%.3f)\n", "the same, then sync of its image", med["ddrescue-synced"], best["ddrescue-synced"]
    split("acquire dd", what, " ")
    for (w = 1; w <= 2; w++) {
      target = (what[w] == "acquire") ? acqT : ddT
      name = (what[w] == "acquire") ? "blkfs acquire (fresh cache)" : "dd bs=1M of cold /raw"
      for (b = 1; b <= 2; b++) {
        l = (b == 1) ? "blkfs" : "nostore"; k = l "-" what[w]
        verdict = (med[k] <= target) ? "within" : sprintf("over by %.0f%%", 100 * (med[k] / target - 1))
        printf "  %-30s %-7s %.3f (%.3f)   target <= %.3f: %s\n", name, l, med[k], best[k], target, verdict
      }
    }
  }'
