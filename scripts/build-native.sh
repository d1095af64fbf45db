#!/bin/sh
# Builds the mount server's one native piece, src/fuse/fuse-max-pages.c (1 MiB FUSE reads; see its comment), into
# dist/src/fuse/. Without a C compiler the mount still works, with the kernel's 128 KiB reads: say so, do not fail.
set -eu
cd "$(dirname "$0")/.."
out=dist/src/fuse/fuse-max-pages.so
mkdir -p "$(dirname "$out")"
if ! command -v cc >/dev/null; then
  echo "build: no C compiler (cc): $out not built; mounts get 128 KiB FUSE reads" >&2
  exit 0
fi
cc -O2 -Wall -Wextra -Werror -shared -fPIC -o "$out.tmp" src/fuse/fuse-max-pages.c -ldl
mv "$out.tmp" "$out"
