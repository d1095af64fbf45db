#!/usr/bin/env bash
# Installs what blkfs needs on Debian: system tools (when missing), npm packages, and the build.
set -euo pipefail
cd "$(dirname "$0")/.."
# Node is not installed here (Debian 12's nodejs is 18): say so before apt-get and npm fail in less clear ways.
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' 2>/dev/null; then
  echo "blkfs needs Node.js 20 or later (found: $(node --version 2>/dev/null || echo none)); install it, then run this again" >&2
  exit 1
fi
need=()
command -v nbdkit >/dev/null || need+=(nbdkit)
command -v fusermount3 >/dev/null || need+=(fuse3)
/sbin/ldconfig -p | grep 'libfuse\.so\.2 ' >/dev/null || need+=(libfuse2)   # fuse-native's prebuilt addon links libfuse 2 (grep reads all: no SIGPIPE under pipefail)
command -v ddrescue >/dev/null || need+=(gddrescue)
command -v ddrescuelog >/dev/null || need+=(gddrescue)
command -v par2 >/dev/null || need+=(par2)
command -v nbdcopy >/dev/null || need+=(libnbd-bin)     # speed benches: the NBD transport's ceiling
command -v nbdfuse >/dev/null || need+=(nbdfuse)        # speed benches: ddrescue through NBD without a cache
command -v tsk_loaddb >/dev/null || need+=(sleuthkit)   # the damaged-files report
command -v chromium >/dev/null || need+=(chromium)      # the web page's browser test
command -v mkfs.vfat >/dev/null || need+=(dosfstools)   # test media
command -v mcopy >/dev/null || need+=(mtools)
command -v genisoimage >/dev/null || need+=(genisoimage)
command -v xorriso >/dev/null || need+=(xorriso)
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
command -v mkntfs >/dev/null || need+=(ntfs-3g)        # test media: NTFS (mkntfs, ntfscp)
command -v losetup >/dev/null || need+=(mount)          # loop devices: media-change tests
command -v python3 >/dev/null || need+=(python3)        # LOOP_CHANGE_FD ioctl in media-change tests
command -v cc >/dev/null || need+=(gcc)                 # scripts/build-native.sh: the 1 MiB FUSE read shim
command -v g++ >/dev/null || need+=(g++)                # npm ci: better-sqlite3 builds from source when it cannot
command -v make >/dev/null || need+=(make)              # fetch its prebuilt binary (node-gyp needs g++, make, python3)
if ((${#need[@]})); then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
