#!/usr/bin/env bash
# bench/cold-ab (issue 9, prints figures; asserts nothing): cold sequential reads of /raw, default mount options,
# two builds A and B alternating in the same run (on a shared 2-core machine only an alternating comparison says
# anything). One nbdkit (-r, file plugin, page-cached random image) serves every reader. Each round: ddrescue -d
# -b512 through `nbdfuse -r` and nbdcopy of the export (the references), then per build: ddrescue -d -b512 of cold
# /raw and dd bs=1M of cold /raw, each on a fresh cache, with the server's CPU time (event loop and all threads).
# Ends with each row's median and best.
# Usage: bench/cold-ab.sh [ROUNDS (5)] [SIZE_MIB (512)] [DIST_A (./dist)] [DIST_B]   e.g. an old build saved with
# `git worktree add /tmp/old HEAD~3 && (cd /tmp/old && ln -s $PWD/node_modules . && npx tsc -p .)`: then
# bench/cold-ab.sh 5 512 /tmp/old/dist ./dist. Needs root (FUSE), nbdkit, nbdcopy, nbdfuse, ddrescue.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
MIB=${2:-512}
DISTS=("$(realpath "${3:-dist}")")
[ -n "${4:-}" ] && DISTS+=("$(realpath "$4")")
T=$(mktemp -d "${TMPDIR:-/tmp}/blkfs-bench-cold-ab.XXXXXX")
NK=""
cleanup() {
  set +e
  grep -q " $T/mnt " /proc/self/mountinfo && node "${DISTS[0]}/src/cli/main.js" umount "$T/mnt" >/dev/null 2>&1
  grep -q " $T/nbdf " /proc/self/mountinfo && fusermount3 -uz "$T/nbdf"
  [ -n "$NK" ] && kill "$NK" 2>/dev/null && wait "$NK" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
mkdir "$T/mnt" "$T/nbdf"
head -c $((MIB << 20)) /dev/urandom >"$T/medium.img"
nbdkit -r -f -U "$T/nbd.sock" file "$T/medium.img" &
NK=$!
for _ in $(seq 100); do [ -S "$T/nbd.sock" ] && break; sleep 0.05; done
URI="nbd+unix:///?socket=$T/nbd.sock"
HZ=$(getconf CLK_TCK)
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# One cold read of /raw by build $1 with reader $2 (ddr|dd): "SECONDS SERVER_CPU_SECONDS".
cold() {
  local blkfs=(node "$1/src/cli/main.js") sp t0 t1 c0 c1
  rm -rf "$T/cache"
  sp=$("${blkfs[@]}" mount "$URI" "$T/mnt" --cache "$T/cache" 2>&1 | sed -n 's/.*server pid \([0-9]*\).*/\1/p')
  sync
  c0=$(ticks "$sp"); t0=$(now)
  if [ "$2" = dd ]; then dd if="$T/mnt/raw" of=/dev/null bs=1M status=none; else ddrescue -d -b512 "$T/mnt/raw" "$T/out.img" "$T/out.map" >/dev/null; fi
  t1=$(now); c1=$(ticks "$sp")
  rm -f "$T/out.img" "$T/out.map"
  "${blkfs[@]}" umount "$T/mnt" >/dev/null
  echo "$(secs "$t0" "$t1") $(awk -v c=$((c1 - c0)) -v hz="$HZ" 'BEGIN { printf "%.2f", c / hz }')"
}
cat "$T/medium.img" >/dev/null
echo "bench/cold-ab: cold /raw of a ${MIB} MiB page-cached image, $ROUNDS rounds; builds: ${DISTS[*]}; load $(cut -d' ' -f1-3 /proc/loadavg)"
ROWS="$T/rows"
: >"$ROWS"
for r in $(seq "$ROUNDS"); do
  nbdfuse -r -P "$T/nbdf.pid" "$T/nbdf" "$URI" &
  NF=$!
  for _ in $(seq 100); do [ -s "$T/nbdf.pid" ] && [ -e "$T/nbdf/nbd" ] && break; sleep 0.05; done
  sync; t0=$(now); ddrescue -d -b512 "$T/nbdf/nbd" "$T/out.img" "$T/out.map" >/dev/null; t1=$(now)
  rm -f "$T/out.img" "$T/out.map" "$T/nbdf.pid"
  fusermount3 -u "$T/nbdf"; wait "$NF"
  t2=$(now); nbdcopy --connections=1 "$URI" null:; t3=$(now)
  line="round $r: nbdfuse ddrescue -d $(secs "$t0" "$t1") s, nbdcopy $(secs "$t2" "$t3") s"
  echo "ref nbdfuse-ddrescue $(secs "$t0" "$t1") 0" >>"$ROWS"
  echo "ref nbdcopy $(secs "$t2" "$t3") 0" >>"$ROWS"
  for i in "${!DISTS[@]}"; do
    label=$([ "$i" = 0 ] && echo A || echo B)
    read -r ddr ddrcpu <<<"$(cold "${DISTS[$i]}" ddr)"
    read -r dd ddcpu <<<"$(cold "${DISTS[$i]}" dd)"
    line="$line | $label: ddrescue -d ${ddr} s (server CPU $ddrcpu), dd ${dd} s (server CPU $ddcpu)"
    echo "$label ddrescue-d $ddr $ddrcpu" >>"$ROWS"
    echo "$label dd-bs1M $dd $ddcpu" >>"$ROWS"
  done
  echo "$line"
done
echo "medians (best) in seconds, server CPU medians:"
sort -k1,2 "$ROWS" | awk '
  function flush() { if (n == 0) return; m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    mc = (n % 2) ? c[(n + 1) / 2] : (c[n / 2] + c[n / 2 + 1]) / 2
    printf "  %-4s %-20s median %.3f (best %.3f)%s\n", k1, k2, m, v[1], (mc > 0 ? sprintf(", server CPU %.2f", mc) : ""); n = 0 }
  { if ($1 != k1 || $2 != k2) { flush(); k1 = $1; k2 = $2 }
    n++; v[n] = $3; c[n] = $4
    for (i = n; i > 1 && v[i] < v[i - 1]; i--) { t = v[i]; v[i] = v[i - 1]; v[i - 1] = t }
    for (i = n; i > 1 && c[i] < c[i - 1]; i--) { t = c[i]; c[i] = c[i - 1]; c[i - 1] = t } }
  END { flush() }'
