#!/usr/bin/env bash
# Installs what blkfs needs on Debian: system tools (when missing), npm packages, and the build.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v nbdkit >/dev/null || need+=(nbdkit)
command -v fusermount3 >/dev/null || need+=(fuse3)
command -v ddrescue >/dev/null || need+=(gddrescue)
command -v ddrescuelog >/dev/null || need+=(gddrescue)
command -v par2 >/dev/null || need+=(par2)
if ((${#need[@]})); then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
