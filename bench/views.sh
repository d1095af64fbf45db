#!/usr/bin/env bash
# bench/views: the archive views on a fully cached medium (default 1 GiB, an image file source).
#  - cp of /sbx/image.sbx, MB/s of container bytes: the first copy (it hashes the image first) and a copy
#    once the hash is known, beside `blkfs sbx encode` of the exported image (same parameters, same run,
#    same disk) and beside the FUSE ceiling (bench/mount-ceiling: one Node fuse-native file from memory,
#    same mount options, same size). Target: copy with the hash known >= 0.8x encode.
#  - /rescued/: time from listing /rescued/ to the first byte of a decoded file (a 64 MiB file in a default
#    EC container on the medium).
# Prints figures; asserts nothing.   Usage: bench/views.sh [SIZE_MIB]   (root, FUSE)
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-1024}
SIZE=$((MIB << 20))
BLKFS=(node "$PWD/dist/src/cli/main.js")
T=$(mktemp -d "${TMPDIR:-/tmp}/blkfs-bench-views.XXXXXX")
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

now() { date +%s.%N; }
mbps() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# Seconds for a command, output discarded.
timed() { local a b; a=$(now); "$@" > /dev/null 2>&1; b=$(now); awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b - a }'; }

# The medium: random bytes with a default EC container of a 64 MiB file at 256 MiB (for /rescued/).
head -c "$SIZE" /dev/urandom > "$T/medium.img"
FILE_MIB=$(( MIB >= 512 ? 64 : MIB / 8 ))
head -c $((FILE_MIB << 20)) /dev/urandom > "$T/found.bin"
"${BLKFS[@]}" sbx encode --pv 0 "$T/found.bin" "$T/found.ecsbx" > /dev/null
dd if="$T/found.ecsbx" of="$T/medium.img" bs=1M seek=$((MIB / 4)) conv=notrunc status=none

"${BLKFS[@]}" mount "$T/medium.img" "$T/mnt" --cache "$T/cache" 2>/dev/null
"${BLKFS[@]}" acquire "$T/mnt" 2>/dev/null
CSIZE=$(stat -c %s "$T/mnt/sbx/image.sbx")

# /rescued/: listing to first byte of the decoded file.
a=$(now)
uid=$(ls "$T/mnt/rescued" | head -1)
head -c 1 "$T/mnt/rescued/$uid/found.bin" > /dev/null
b=$(now)
rescued_ms=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
t_decoded=$(timed cp "$T/mnt/rescued/$uid/found.bin" "$T/found.copy")
cmp -s "$T/found.copy" "$T/found.bin" || echo "WARNING: decoded file differs from the original" >&2
rm -f "$T/found.copy"

# /sbx/image.sbx: the first copy hashes the image; the next ones only encode.
t_first=$(timed cp "$T/mnt/sbx/image.sbx" "$T/copy1.sbx")
rm -f "$T/copy1.sbx"
t_view1=$(timed cp "$T/mnt/sbx/image.sbx" "$T/copy2.sbx")
rm -f "$T/copy2.sbx"
t_view2=$(timed cp "$T/mnt/sbx/image.sbx" "$T/copy3.sbx")
t_view=$(awk -v a="$t_view1" -v b="$t_view2" 'BEGIN { print (a < b ? a : b) }')
t_null=$(timed dd if="$T/mnt/sbx/image.sbx" of=/dev/null bs=1M)
"${BLKFS[@]}" export "$T/mnt" "$T/exported.img" "$T/exported.map" > /dev/null 2>&1
"${BLKFS[@]}" umount "$T/mnt"
rm -f "$T/copy3.sbx" "$T/medium.img"

t_enc1=$(timed "${BLKFS[@]}" sbx encode --pv 0 -f "$T/exported.img" "$T/enc.ecsbx")
t_enc2=$(timed "${BLKFS[@]}" sbx encode --pv 0 -f "$T/exported.img" "$T/enc.ecsbx")
t_enc=$(awk -v a="$t_enc1" -v b="$t_enc2" 'BEGIN { print (a < b ? a : b) }')
rm -f "$T/enc.ecsbx" "$T/exported.img"

LD_PRELOAD="$PWD/dist/src/fuse/fuse-max-pages.so" node dist/bench/mount-ceiling.js "$T/ceil" "$CSIZE" > "$T/ceil.out" &
CEIL_PID=$!
for _ in $(seq 200); do grep -q ready "$T/ceil.out" 2>/dev/null && break; sleep 0.05; done
t_ceil=$(timed cp "$T/ceil/file" "$T/ceil.copy")
rm -f "$T/ceil.copy"
t_ceil_null=$(timed dd if="$T/ceil/file" of=/dev/null bs=1M)
kill "$CEIL_PID"; wait "$CEIL_PID" 2>/dev/null || true; CEIL_PID=""

rate() { awk -v n="$CSIZE" -v t="$1" 'BEGIN { printf "%.0f", n / t / 1e6 }'; }
enc=$(rate "$t_enc"); view=$(rate "$t_view"); ceil=$(rate "$t_ceil")
echo "bench/views: ${MIB} MiB medium, fully cached; /sbx/image.sbx is $CSIZE bytes (v17, 10+2, burst 12); MB/s of container bytes"
printf '  %-58s %6s\n' "FUSE ceiling: cp of a same-size memory-backed FUSE file" "$ceil"
printf '  %-58s %6s\n' "FUSE ceiling: dd bs=1M to /dev/null" "$(rate "$t_ceil_null")"
printf '  %-58s %6s\n' "blkfs sbx encode of the exported image (best of 2)" "$enc"
printf '  %-58s %6s\n' "cp /sbx/image.sbx, first copy (hashes the image first)" "$(rate "$t_first")"
printf '  %-58s %6s   %sx encode (target >= 0.8), %sx ceiling\n' "cp /sbx/image.sbx, hash known (best of 2)" "$view" "$(ratio "$view" "$enc")" "$(ratio "$view" "$ceil")"
printf '  %-58s %6s\n' "dd bs=1M of /sbx/image.sbx to /dev/null, hash known" "$(rate "$t_null")"
echo "  /rescued/: listing to the first byte of a decoded ${FILE_MIB} MiB file: ${rescued_ms} ms;" \
  "whole decoded file: $(awk -v n=$((FILE_MIB << 20)) -v t="$t_decoded" 'BEGIN { printf "%.0f", n / t / 1e6 }') MB/s"
