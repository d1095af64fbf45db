#!/usr/bin/env bash
# bench/fixity: what fixity costs. Warm sequential /raw MB/s without first-read verification (the session that
# stored the chunks: their checksums are known good) and with it (after a remount: each chunk is checked once, the
# first time it is served), then a second warm pass (checked already: no cost); and the time of
# `blkfs verify --cache DIR` over the whole cache beside `cat` of its data file (the I/O floor) in the same run.
# Prints figures; asserts nothing. Usage: bench/fixity.sh [SIZE_MIB]   (default 1024; root, FUSE)
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-1024}
BLKFS=(node "$PWD/dist/src/cli/main.js")
T=$(mktemp -d "${TMPDIR:-/tmp}/blkfs-bench-fixity.XXXXXX")
cleanup() {
  set +e
  grep -q " $T/mnt " /proc/self/mountinfo && "${BLKFS[@]}" umount "$T/mnt"
  rm -rf "$T"
}
trap cleanup EXIT
mkdir "$T/mnt"
rate() { dd if="$1" of=/dev/null bs=1M 2>&1 | awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") t = $(i-1); printf "%.0f", $1 / t / 1e6 }'; }
secs() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'; }

echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
head -c "$((MIB << 20))" /dev/urandom > "$T/medium.img"
"${BLKFS[@]}" mount "$T/medium.img" "$T/mnt" --cache "$T/cache" 2>/dev/null
"${BLKFS[@]}" acquire "$T/mnt" -q
nover=$(rate "$T/mnt/raw")
"${BLKFS[@]}" umount "$T/mnt"
"${BLKFS[@]}" mount "$T/medium.img" "$T/mnt" --cache "$T/cache" 2>/dev/null
first=$(rate "$T/mnt/raw")
second=$(rate "$T/mnt/raw")
"${BLKFS[@]}" umount "$T/mnt"
cat "$T/cache/data.img" > /dev/null # page cache warm for both timings below
catt=$(secs cat "$T/cache/data.img")
vt=$(secs "${BLKFS[@]}" verify --cache "$T/cache" -q)
chunks=$("${BLKFS[@]}" verify --cache "$T/cache" --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).chunks))')
echo "medium: ${MIB} MiB, ${chunks} checksummed chunks"
echo "warm /raw, no first-read verification (same session):  ${nover} MB/s"
echo "warm /raw, first read after remount (each chunk checked): ${first} MB/s  (ratio $(awk -v a="$first" -v b="$nover" 'BEGIN { printf "%.2f", a / b }'))"
echo "warm /raw, second read after remount (checked already):   ${second} MB/s"
echo "blkfs verify --cache (${MIB} MiB): ${vt} s; cat of the data file: ${catt} s"
