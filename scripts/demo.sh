#!/usr/bin/env bash
# `make demo`: blkfs on a built-in demo medium. A 32 MiB image with a few unreadable ranges is served by
# nbdkit's ddrescue filter (errors exactly where the map says) behind its delay filter (a slow disc);
# blkfs mounts it, ddrescue copies /raw with progress, and ddrescuelog summarises the live /mapfile.
# Needs what scripts/setup.sh installs, and root (FUSE). Cleans up its temp dir and processes.
set -euo pipefail
cd "$(dirname "$0")/.."
BLKFS=(node "$PWD/dist/src/cli/main.js")
T=$(mktemp -d "${TMPDIR:-/tmp}/blkfs-demo.XXXXXX")
NBDKIT_PID=""

cleanup() {
  set +e
  if grep -q " $T/mnt " /proc/self/mountinfo 2>/dev/null; then
    "${BLKFS[@]}" umount "$T/mnt" 2>/dev/null || fusermount3 -u "$T/mnt" 2>/dev/null || umount -l "$T/mnt"
  fi
  [ -n "$NBDKIT_PID" ] && kill "$NBDKIT_PID" 2>/dev/null && wait "$NBDKIT_PID" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Demo medium: 32 MiB, every 512-byte sector says which one it is"
node -e '
  const fs = require("fs");
  const size = 32 << 20, sector = 512, img = Buffer.alloc(size);
  for (let s = 0; s < size / sector; s++) {
    const line = `blkfs demo medium, sector ${s} (0x${(s * sector).toString(16).toUpperCase()})\n`;
    img.write(line.repeat(Math.ceil(sector / line.length)).slice(0, sector), s * sector, "latin1");
  }
  fs.writeFileSync(process.argv[1], img);
' "$T/demo.img"
scripts/demo-sbx.sh embed "$T" # an SBX container on the medium, for /rescued/ to find
# The truth: three unreadable ranges (one 4 KiB page, two sectors, one sector), ddrescue mapfile syntax.
cat > "$T/bad.map" <<'MAP'
# current_pos  current_status  current_pass
0x00000000     +               1
#      pos        size  status
0x00000000  0x00800000  +
0x00800000  0x00001000  -
0x00801000  0x00C00200  +
0x01401200  0x00000400  -
0x01401600  0x005FEA00  +
0x01A00000  0x00000200  -
0x01A00200  0x005FFE00  +
MAP
step "The medium's three unreadable ranges ('-'), as a ddrescue mapfile: nbdkit fails reads exactly there"
grep -E '^0x[0-9A-F]+ +0x[0-9A-F]+ +[-+]' "$T/bad.map" | sed 's/^/  /'

step "nbdkit: ddrescue filter (the bad ranges) behind the delay filter (10 ms per read: a slow disc)"
nbdkit -f -r -U "$T/nbd.sock" -P "$T/nbdkit.pid" --filter=delay --filter=ddrescue \
  file "$T/demo.img" ddrescue-mapfile="$T/bad.map" rdelay=10ms &
NBDKIT_PID=$!
for _ in $(seq 100); do [ -s "$T/nbdkit.pid" ] && break; sleep 0.05; done
[ -s "$T/nbdkit.pid" ] || { echo "nbdkit did not start" >&2; exit 2; }

step "blkfs mount nbd+unix:///?socket=$T/nbd.sock $T/mnt"
mkdir "$T/mnt"
"${BLKFS[@]}" mount "nbd+unix:///?socket=$T/nbd.sock" "$T/mnt" --cache "$T/cache"
ls -l "$T/mnt"

step "Copy /raw with ddrescue -d -b512 (direct I/O: errors at sector precision)"
ddrescue -d -b512 "$T/mnt/raw" "$T/copy.img" "$T/copy.map" || true

step "ddrescuelog -t $T/mnt/mapfile (the cache's own live map)"
ddrescuelog -t "$T/mnt/mapfile"
echo
echo "Bad areas in /mapfile:"
grep -E '^0x[0-9A-F]+ +0x[0-9A-F]+ +-' "$T/mnt/mapfile" | sed 's/^/  /'

step "Every byte the mapfile marks + equals the medium"
node -e '
  const fs = require("fs");
  const [map, a, b] = process.argv.slice(1);
  const medium = fs.readFileSync(a), copy = fs.readFileSync(b);
  let good = 0;
  for (const line of fs.readFileSync(map, "utf8").split("\n")) {
    const m = /^(0x[0-9A-F]+)\s+(0x[0-9A-F]+)\s+\+/i.exec(line);
    if (!m) continue;
    const [pos, size] = [Number(m[1]), Number(m[2])];
    if (!medium.subarray(pos, pos + size).equals(copy.subarray(pos, pos + size))) { console.log("  MISMATCH in", line); process.exit(1); }
    good += size;
  }
  console.log(`  ${good} bytes rescued, all equal to the medium`);
' "$T/mnt/mapfile" "$T/demo.img" "$T/copy.img"

step "A second full read is served from the cache: device reads before and after"
reads() { node -e 'const s=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); console.log(s.deviceReads + " device reads, " + s.deviceBytes + " bytes")' "$T/mnt/status"; }
echo "  before: $(reads)"
dd if="$T/mnt/raw" of=/dev/null bs=1M iflag=direct conv=noerror status=none 2>/dev/null || true
echo "  after:  $(reads)"

scripts/demo-sbx.sh show "$T" "$T/mnt" # /sbx/image.sbx, blkfs sbx decode, /rescued/

step "blkfs status $T/mnt (the rescue at a glance; /map.png and /map.svg draw the same map)"
"${BLKFS[@]}" status "$T/mnt"
file "$T/mnt/map.png" | sed "s|^$T/mnt/||; s/^/  /"

step "blkfs umount $T/mnt"
"${BLKFS[@]}" umount "$T/mnt"
echo "done."
