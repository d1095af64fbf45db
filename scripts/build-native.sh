#!/bin/sh
# Builds the mount server's native pieces into dist/: src/fuse/fuse-max-pages.c (1 MiB FUSE reads),
# src/fuse/cpu-placement.c (the request path on one CPU, background work on the others) and
# src/cli/exit-with-parent.c (the server `mount -f` runs in a child dies with the command); see their comments.
# Without a C compiler the mount still works, with the kernel's 128 KiB reads (and -f serves in its own process):
# say so, do not fail.
set -eu
cd "$(dirname "$0")/.."
if ! command -v cc >/dev/null; then
  echo "build: no C compiler (cc): dist/src/fuse/fuse-max-pages.so not built; mounts get 128 KiB FUSE reads" >&2
  exit 0
fi
build() {
  mkdir -p "$(dirname "$2")"
  cc -O2 -Wall -Wextra -Werror -shared -fPIC -o "$2.tmp" "$1" -ldl
  mv "$2.tmp" "$2"
}
build src/cli/exit-with-parent.c dist/src/cli/exit-with-parent.so
build src/fuse/fuse-max-pages.c dist/src/fuse/fuse-max-pages.so
build src/fuse/cpu-placement.c dist/src/fuse/cpu-placement.so
