#!/usr/bin/env bash
# The archive part of `make demo` (scripts/demo.sh calls it twice):
#   demo-sbx.sh embed DIR      puts an SBX container (a letter, blkar's default EC format) on DIR/demo.img,
#                              across the demo's bad range at 8 MiB, before the medium is served;
#   demo-sbx.sh show DIR MNT   copies /sbx/image.sbx and its map, decodes the copy with `blkfs sbx decode`,
#                              and shows /rescued/ with the letter decoded from the medium (RS-repaired).
set -euo pipefail
cd "$(dirname "$0")/.."
BLKFS=(node "$PWD/dist/src/cli/main.js")
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# The container starts 40 blocks before the demo's 4 KiB bad range at 0x800000: 8 of its data blocks are lost there,
# fewer than the 2 × 12 that one super block set of the default container (10+2 shards, burst 12) survives.
OFFSET=$((0x7FB000))

case "${1:-}" in
embed)
  T=$2
  step "An SBX container on the demo medium: a letter, encoded with blkar's defaults, at $(printf '0x%X' $OFFSET)"
  node -e '
    const lines = [];
    for (let i = 1; i <= 2000; i++) lines.push(`Line ${i} of a letter kept on the demo medium, to be found again by /rescued/.`);
    require("fs").writeFileSync(process.argv[1], lines.join("\n") + "\n");
  ' "$T/letter.txt"
  "${BLKFS[@]}" sbx encode --pv 0 "$T/letter.txt" "$T/letter.txt.ecsbx" | grep -E 'File UID|SBX container size|Hash' | sed 's/^/  /'
  dd if="$T/letter.txt.ecsbx" of="$T/demo.img" bs=512 seek=$((OFFSET / 512)) conv=notrunc status=none
  ;;
show)
  T=$2
  MNT=$3
  step "/sbx/image.sbx: the whole medium as an SBX container (what blkar writes), and the map that goes with it"
  ls -l "$MNT/sbx"
  dd if="$MNT/sbx/image.sbx" of="$T/image.sbx" bs=1M status=progress
  cp "$MNT/sbx/image.map" "$T/image.map"
  echo "  bad areas (zeros inside image.sbx), from image.map:"
  grep -E '^0x[0-9A-F]+ +0x[0-9A-F]+ +-' "$T/image.map" | sed 's/^/    /'

  step "blkfs sbx decode of the copy: the medium image again, hash checked"
  "${BLKFS[@]}" sbx decode --pv 0 -f "$T/image.sbx" "$T/image-decoded.img" | grep -E 'File size|Recorded hash|Hash of output|matches' | sed 's/^/  /'
  node -e '
    const fs = require("fs");
    const [img, decoded, map] = process.argv.slice(1);
    const want = fs.readFileSync(img);
    for (const line of fs.readFileSync(map, "utf8").split("\n")) {
      const m = /^(0x[0-9A-F]+)\s+(0x[0-9A-F]+)\s+-/i.exec(line);
      if (m) want.fill(0, Number(m[1]), Number(m[1]) + Number(m[2]));
    }
    const ok = fs.readFileSync(decoded).equals(want);
    console.log(ok ? "  decoded image = the medium, with zeros exactly where image.map says -" : "  MISMATCH");
    process.exit(ok ? 0 : 1);
  ' "$T/demo.img" "$T/image-decoded.img" "$T/image.map"

  step "/rescued/: SBX containers found on the medium while it was read"
  ls -l "$MNT/rescued"
  for d in "$MNT"/rescued/*/; do
    ls -l "$d"
    node -e '
      const i = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const b = i.blocks;
      console.log(`  ${i.metadata?.fileName ?? "?"}: version ${i.version}, ${b.found} of ${b.expected} blocks found, ` +
        `${b.dataChunksRepaired} data blocks rebuilt with Reed-Solomon, hash ${i.hash.matches ? "matches" : "does NOT match"}`);
    ' "$d/info.json"
  done
  if cmp -s "$MNT"/rescued/*/letter.txt "$T/letter.txt"; then
    echo "  the letter decoded from the medium equals the original"
  else
    echo "  the letter decoded from the medium differs from the original" >&2
    exit 1
  fi
  ;;
*)
  echo "usage: $0 embed DIR | show DIR MOUNTPOINT" >&2
  exit 1
  ;;
esac
