#!/usr/bin/env bash
# bench/archive: `blkfs archive` of a fully cached medium (default 256 MiB, an image file source), MB/s of
# data/image.sbx bytes, beside `cp MNT/sbx/image.sbx` (same mount, same run, same disk):
#  - to a local directory (bag written, fsync'd, renamed, then every file read back and checked);
#  - to a local S3 server (s3rver on loopback: parts sent, object ETags checked), beside the SDK's own multipart
#    upload of the same bytes from a local file to the same server (the store's own speed);
#  - to both at once.
# The hash of the image is made once before the copies (the first read of the metadata needs it).
# Prints figures; asserts nothing.   Usage: bench/archive.sh [SIZE_MIB]   (root, FUSE)
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-256}
BLKFS=(node "$PWD/dist/src/cli/main.js")
T=$(mktemp -d "${TMPDIR:-/tmp}/blkfs-bench-archive.XXXXXX")
S3_PID=""
cleanup() {
  set +e
  grep -q " $T/mnt " /proc/self/mountinfo && "${BLKFS[@]}" umount "$T/mnt"
  [ -n "$S3_PID" ] && kill "$S3_PID" 2>/dev/null && wait "$S3_PID" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
mkdir "$T/mnt" "$T/s3" "$T/cp" "$T/bags1" "$T/bags2"

now() { date +%s.%N; }
timed() { local a b; a=$(now); "$@" > /dev/null 2>&1; b=$(now); awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b - a }'; }

head -c $((MIB << 20)) /dev/urandom > "$T/medium.img"
"${BLKFS[@]}" mount "$T/medium.img" "$T/mnt" --cache "$T/cache" 2>/dev/null
"${BLKFS[@]}" acquire -q "$T/mnt" 2>/dev/null
head -c 1 "$T/mnt/sbx/image.sbx" > /dev/null # the image hash, once
CSIZE=$(stat -c %s "$T/mnt/sbx/image.sbx")

node bench/s3rver.js "$T/s3" > "$T/s3.port" &
S3_PID=$!
for _ in $(seq 100); do [ -s "$T/s3.port" ] && break; sleep 0.05; done
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 AWS_ENDPOINT_URL="http://127.0.0.1:$(cat "$T/s3.port")"

t_cp=$(timed cp "$T/mnt/sbx/image.sbx" "$T/cp/image.sbx")
t_put=$(timed node bench/s3-put.js "$T/cp/image.sbx" bags plain/image.sbx)
rm -f "$T/cp/image.sbx"
t_dir=$(timed "${BLKFS[@]}" archive -q "$T/mnt" "$T/bags1")
t_s3=$(timed "${BLKFS[@]}" archive -q "$T/mnt" s3://bags/one)
t_both=$(timed "${BLKFS[@]}" archive -q "$T/mnt" "$T/bags2" s3://bags/two)
ls "$T/bags1"/*/data/image.sbx "$T/bags2"/*/data/image.sbx > /dev/null # both bags were made

rate() { awk -v n="$CSIZE" -v t="$1" 'BEGIN { printf "%.0f", n / t / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b / a }'; }
echo "bench/archive: ${MIB} MiB medium, fully cached; data/image.sbx is $CSIZE bytes (v17, 10+2, burst 12); MB/s of container bytes"
printf '  %-52s %6s\n' "cp MNT/sbx/image.sbx (hash known)" "$(rate "$t_cp")"
printf '  %-52s %6s   %sx cp\n' "blkfs archive MNT DIR (bag written and verified)" "$(rate "$t_dir")" "$(ratio "$t_dir" "$t_cp")"
printf '  %-52s %6s\n' "SDK multipart upload of a copy from local disk (baseline)" "$(rate "$t_put")"
printf '  %-52s %6s   %sx cp, %sx SDK upload\n' "blkfs archive MNT s3://... (s3rver on loopback)" "$(rate "$t_s3")" "$(ratio "$t_s3" "$t_cp")" "$(ratio "$t_s3" "$t_put")"
printf '  %-52s %6s   %sx cp\n' "blkfs archive MNT DIR s3://... (both at once)" "$(rate "$t_both")" "$(ratio "$t_both" "$t_cp")"
