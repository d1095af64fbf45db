#!/usr/bin/env bash
# Bench (prints figures; not a test): blkfs sbx encode throughput on a 512 MiB random file, version 1
# and the defaults (17/10/2/12, SHA-256), beside sha256sum and `par2 create -r17` (17% redundancy,
# the defaults' overhead) of the same file, in the same run. Ratios are encode MB/s ÷ sha256sum MB/s.
# Targets (issue 2): v1 ≥ 0.8x, defaults ≥ 0.7x.  Env: SIZE_MIB (default 512), REPEAT (default 1: each
# figure is the best of REPEAT runs, which filters out other work on the machine).
# Also printed: the encoder on one thread (no render worker) and Node's in-process SHA-256 of the file.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB="${SIZE_MIB:-512}"
export REPEAT="${REPEAT:-1}"
[ -f dist/bench/sbx-encode.js ] || npx tsc -p . >/dev/null || true
tmp="$(mktemp -d "${TMPDIR:-/tmp}/blkfs-bench-sbx-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
in="$tmp/input.bin"
head -c "$((SIZE_MIB * 1048576))" /dev/urandom > "$in"
cat "$in" > /dev/null # warm the page cache so every tool reads from memory
bytes=$(stat -c %s "$in")

secs() { # best of REPEAT runs
  local best="" t0 t1 s i
  for ((i = 0; i < REPEAT; i++)); do
    t0=$(date +%s.%N); "$@" > /dev/null 2>&1; t1=$(date +%s.%N)
    s=$(echo "$t1 - $t0" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$s < $best" | bc -l)" = 1 ]; then best=$s; fi
  done
  echo "$best"
}
mbps() { echo "scale=1; $bytes / 1000000 / $1" | bc -l; }

sha_s=$(secs sha256sum "$in")
sha_mbps=$(mbps "$sha_s")
par2_s=$(REPEAT=1 secs par2 create -q -q -r17 "$tmp/par.par2" "$in") # ~100 s: once is enough
rm -f "$tmp"/par*.par2

printf '%-36s %9s %9s %8s\n' "tool (${SIZE_MIB} MiB input)" seconds MB/s "x sha256"
printf '%-36s %9.3f %9s %8s\n' sha256sum "$sha_s" "$sha_mbps" 1.00
while read -r label s rate; do
  printf '%-36s %9.3f %9s %8.2f\n' "$label" "$s" "$rate" "$(echo "$rate / $sha_mbps" | bc -l)"
done < <(node dist/bench/sbx-encode.js "$in" "$tmp")
printf '%-36s %9.3f %9s %8.2f\n' "par2 create -r17" "$par2_s" "$(mbps "$par2_s")" "$(echo "$(mbps "$par2_s") / $sha_mbps" | bc -l)"
echo "targets: blkfs-encode-v1 >= 0.80x sha256sum, defaults >= 0.70x (nproc=$(nproc), REPEAT=$REPEAT, load: $(cut -d' ' -f1-3 /proc/loadavg))"
