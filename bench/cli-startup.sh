#!/usr/bin/env bash
# bench/cli-startup (prints figures; asserts nothing): what a blkfs command costs before and around its work, against
# `node -e 0` (Node's own start) and `ddrescue --version`: --version, --help, `sbx calc --help`, `sbx calc N`, and on a
# small mounted, fully acquired medium `status MOUNTPOINT` and `acquire -q MOUNTPOINT` (nothing left to read: its
# fixed overhead). Each figure is the median of RUNS runs, wall and CPU (user + sys) in ms, with the number of
# modules of blkfs and of node_modules the command loaded. BASE=/path/to/other/dist/src/cli/main.js adds that
# build's figures, run in turn with this one (A/B on a busy machine).
# Usage: bench/cli-startup.sh   env RUNS (21), BASE. Needs root (FUSE) and nbdkit for the mount. Build first (npx tsc -p .).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-21}
NEW="$PWD/dist/src/cli/main.js"
T=$(mktemp -d "${TMPDIR:-/tmp}/blkfs-bench-startup.XXXXXX")
cleanup() {
  set +e
  grep -q " $T/mnt " /proc/self/mountinfo && node "$NEW" umount "$T/mnt"
  rm -rf "$T"
}
trap cleanup EXIT
head -c $((32 << 20)) /dev/urandom >"$T/medium.img"
mkdir "$T/mnt"
node "$NEW" mount --cache "$T/cache" "$T/medium.img" "$T/mnt" 2>/dev/null
node "$NEW" acquire -q "$T/mnt" 2>/dev/null
cat >"$T/count.js" <<'EOF'
process.on('exit', () => {
  const k = Object.keys(require.cache).filter((f) => f !== __filename);
  const pkg = k.filter((f) => f.includes('/node_modules/')).length;
  require('fs').writeFileSync(process.env.BLKFS_BENCH_COUNT, `${k.length - pkg}+${pkg}`);
});
EOF

# median of column $1 of stdin
median() { sort -n -k"$1" | awk -v c="$1" '{ v[NR] = $c } END { print v[int((NR + 1) / 2)] }'; }

# one timed run: prints "wall_ms cpu_ms"
timed() {
  local TIMEFORMAT='%R %U %S'
  { time "$@" >/dev/null 2>&1; } 2>&1 | awk '{ printf "%.1f %.1f\n", $1 * 1000, ($2 + $3) * 1000 }'
}

builds=("$NEW")
[ -n "${BASE:-}" ] && builds+=("$BASE")
printf '%-32s' 'command'
for b in "${builds[@]}"; do printf '%28s' "$([ "$b" = "$NEW" ] && echo this || echo BASE): wall / cpu / modules"; done
echo
row() {
  local name=$1 i j
  shift
  printf '%-32s' "$name"
  for j in "${!builds[@]}"; do : >"$T/times.$j"; done
  for ((i = 0; i < RUNS; i++)); do
    for j in "${!builds[@]}"; do
      if [ "$name" = 'node -e 0' ]; then timed node -e 0 >>"$T/times.$j"; else timed node "${builds[$j]}" "$@" >>"$T/times.$j"; fi
    done
  done
  for j in "${!builds[@]}"; do
    local mods=-
    if [ "$name" != 'node -e 0' ]; then
      BLKFS_BENCH_COUNT="$T/count" node -r "$T/count.js" "${builds[$j]}" "$@" >/dev/null 2>&1 || true
      mods=$(cat "$T/count")
    fi
    printf '%28s' "$(median 1 <"$T/times.$j") / $(median 2 <"$T/times.$j") / $mods"
  done
  echo
}
row 'node -e 0'
row '--version' --version
row '--help' --help
row 'sbx calc --help' sbx calc --help
row 'sbx calc 1000000' sbx calc 1000000
row 'status MOUNTPOINT' status "$T/mnt"
row 'acquire -q MOUNTPOINT (complete)' acquire -q "$T/mnt"
if command -v ddrescue >/dev/null; then
  : >"$T/dd"
  for ((i = 0; i < RUNS; i++)); do timed ddrescue --version >>"$T/dd"; done
  printf '%-32s%28s\n' 'ddrescue --version' "$(median 1 <"$T/dd") / $(median 2 <"$T/dd") / -"
fi
echo "(modules: of blkfs + of node_modules, loaded by the command)"
