#!/usr/bin/env bash
# Prepares what the iPXE/QEMU end-to-end tests need: host packages and, in a cache dir,
# a real Debian cloud kernel (vmlinuz) and a tiny busybox initrd (initrd.gz) that prints
# "NETBOOT-E2E-MARKER cmdline=<...>" on the console and powers off. Idempotent.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${E2E_CACHE_DIR:-$REPO/.cache/e2e}"
PACKAGES=(qemu-system-x86 ipxe ipxe-qemu ovmf busybox-static cpio)
export DEBIAN_FRONTEND=noninteractive

log() { echo "[e2e-prepare] $*"; }
die() { echo "[e2e-prepare] ERROR: $*" >&2; exit 1; }

TMP=""
cleanup() { if [[ -n "$TMP" ]]; then rm -rf "$TMP"; fi; }
trap cleanup EXIT

APT_UPDATED=0
apt_update_once() {
  if [[ $APT_UPDATED -eq 0 ]]; then
    log "apt-get update"
    apt-get update -q || die "apt-get update failed"
    APT_UPDATED=1
  fi
}

is_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

# 1. Host packages. prepare.sh and prepare-arm64.sh run at the same moment when the e2e test
#    files load: one apt at a time (this lock), else the second dies on dpkg's lock.
exec 9>"${TMPDIR:-/tmp}/netboot-e2e-apt.lock"
flock -w 900 9 || die "waited 15 min for another e2e prepare script's apt run"
missing=()
for p in "${PACKAGES[@]}"; do is_installed "$p" || missing+=("$p"); done
if [[ ${#missing[@]} -gt 0 ]]; then
  [[ $(id -u) -eq 0 ]] || die "missing packages (${missing[*]}) and not root: install them with apt-get"
  apt_update_once
  log "installing: ${missing[*]}"
  apt-get install -y -q --no-install-recommends "${missing[@]}" || die "apt-get install failed"
else
  log "packages already installed: ${PACKAGES[*]}"
fi
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

# 3. Initrd: newc cpio of a static busybox and an /init that prints the marker. Rebuilt when
# the /init below changes (its copy is kept beside the cached initrd).
INIT_SCRIPT='#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
# Kernel messages off the console: they would land inside the marker line (seen under load).
/bin/busybox dmesg -n 1
# The kernel may have found no /dev/console to give init; devtmpfs supplies one.
/bin/busybox mount -t devtmpfs devtmpfs /dev || /bin/busybox true
if [ -c /dev/console ]; then exec >/dev/console 2>&1; fi
echo
echo "NETBOOT-E2E-MARKER cmdline=$(/bin/busybox cat /proc/cmdline)"
/bin/busybox poweroff -f'
if [[ -s "$CACHE/initrd.gz" && "$(cat "$CACHE/init.sh" 2>/dev/null)" == "$INIT_SCRIPT" ]]; then
  log "initrd already present: $CACHE/initrd.gz"
else
  TMP="$(mktemp -d)"
  root="$TMP/root"
  mkdir -p "$root/bin" "$root/proc" "$root/dev"
  cp /bin/busybox "$root/bin/busybox"
  printf '%s\n' "$INIT_SCRIPT" > "$root/init"
  chmod 0755 "$root/init" "$root/bin/busybox"
  (cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --quiet) | gzip -9 > "$CACHE/initrd.gz.tmp" \
    || die "building the initrd failed"
  mv "$CACHE/initrd.gz.tmp" "$CACHE/initrd.gz"
  printf '%s' "$INIT_SCRIPT" > "$CACHE/init.sh"
  rm -rf "$TMP"; TMP=""
  log "initrd ready: $CACHE/initrd.gz"
fi

log "done: $CACHE/vmlinuz $CACHE/initrd.gz"
