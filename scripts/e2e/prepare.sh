#!/usr/bin/env bash
# Prepares what the iPXE/QEMU end-to-end tests need: host packages and, in a cache dir,
# a real Debian cloud kernel (vmlinuz) and a tiny busybox initrd (initrd.gz) that prints
# "NETBOOT-E2E-MARKER cmdline=<...>" on the console and powers off. Idempotent.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${E2E_CACHE_DIR:-$REPO/.cache/e2e}"
PACKAGES=(qemu-system-x86 ipxe ipxe-qemu ovmf busybox-static cpio)
E2E_NAME=e2e-prepare
# shellcheck source=scripts/e2e/host.sh
source "$REPO/scripts/e2e/host.sh"

# 1. Host packages.
install_packages "${PACKAGES[@]}"
for f in /usr/lib/ipxe/ipxe.lkrn /usr/lib/ipxe/qemu/efi-virtio.rom \
         /usr/share/OVMF/OVMF_CODE_4M.fd /usr/share/OVMF/OVMF_VARS_4M.fd /bin/busybox; do
  [[ -f "$f" ]] || die "expected file $f is missing after install"
done
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found"

mkdir -p "$CACHE"

# 2. Kernel: extracted from exactly one linux-image-<version>-cloud-amd64 .deb, never installed.
if [[ -s "$CACHE/vmlinuz" ]]; then
  log "kernel already present: $CACHE/vmlinuz"
else
  pick_kernel_pkg() {
    apt-cache depends linux-image-cloud-amd64 2>/dev/null |
      awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9][^ ]*-cloud-amd64$/ { print $2; exit }'
  }
  download_kernel() {
    pkg="$(pick_kernel_pkg)"
    [[ -n "$pkg" ]] || return 1
    rm -f "$TMP"/*.deb
    log "downloading $pkg (extract only, not installed)"
    # -o APT::Sandbox::User=root: the _apt user cannot write into a root-only temp dir.
    (cd "$TMP" && apt-get download -q -o APT::Sandbox::User=root "$pkg")
  }
  TMP="$(mktemp -d)"
  # Stale package lists can name a kernel the mirror no longer has: refresh once and retry.
  if ! download_kernel; then
    [[ $(id -u) -eq 0 ]] || die "could not download the kernel named by 'apt-cache depends linux-image-cloud-amd64' (not root: cannot apt-get update)"
    apt_update_once
    download_kernel || die "could not download the kernel named by 'apt-cache depends linux-image-cloud-amd64'"
  fi
  debs=("$TMP"/*.deb)
  [[ ${#debs[@]} -eq 1 && -f "${debs[0]}" ]] || die "expected exactly one .deb for $pkg, got: ${debs[*]}"
  dpkg-deb -x "${debs[0]}" "$TMP/x" || die "dpkg-deb -x failed"
  kernels=("$TMP"/x/boot/vmlinuz-*)
  [[ ${#kernels[@]} -eq 1 && -f "${kernels[0]}" ]] || die "expected exactly one boot/vmlinuz-* in $pkg"
  cp "${kernels[0]}" "$CACHE/vmlinuz.tmp" && mv "$CACHE/vmlinuz.tmp" "$CACHE/vmlinuz"
  echo "$(basename "${debs[0]}")" > "$CACHE/kernel-package.txt"
  log "kernel ready: $CACHE/vmlinuz ($(basename "${debs[0]}"))"
  rm -rf "$TMP"; TMP=""
fi

# 3. Initrd: the host's static busybox and the marker /init (scripts/e2e/host.sh).
if marker_initrd_current "$CACHE/initrd.gz"; then
  log "initrd already present: $CACHE/initrd.gz"
else
  build_marker_initrd /bin/busybox "$CACHE/initrd.gz"
  log "initrd ready: $CACHE/initrd.gz"
fi

log "done: $CACHE/vmlinuz $CACHE/initrd.gz"
