#!/usr/bin/env bash
# Installs what `netboot ipxe build` needs to build iPXE from source (cli/ipxe/toolchain.ts names
# the same packages): gcc, make, perl, binutils, liblzma-dev (BIOS's zbin), openssl (TRUST= and
# CERT=), xz-utils and tar, util-linux (flock, the build cache's lock), ca-certificates
# (--trust-google), and the arm64 cross compiler for the efi-arm64 target. Idempotent.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PACKAGES=(gcc make perl binutils liblzma-dev openssl xz-utils tar util-linux ca-certificates)
case "$(uname -m)" in
  x86_64) PACKAGES+=(gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu) ;;
  aarch64) PACKAGES+=(gcc-x86-64-linux-gnu binutils-x86-64-linux-gnu) ;;
esac
E2E_NAME=e2e-prepare-ipxe
# shellcheck source=scripts/e2e/host.sh
source "$REPO/scripts/e2e/host.sh"

install_packages "${PACKAGES[@]}"
[[ -f /usr/include/lzma.h ]] || die "/usr/include/lzma.h missing after installing liblzma-dev"
log "iPXE build toolchain ready"
