#!/usr/bin/env bash
# Prepares the arm64 UEFI iPXE boot (test/e2e/ipxe-arm64.test.ts), all from Debian's packages:
# - host packages (bookworm): qemu-system-arm (qemu-system-aarch64) and qemu-efi-aarch64 (AAVMF);
# - extracted into $CACHE/arm64, never installed:
#   - ipxe-arm64.efi from trixie's `ipxe` (Architecture: all; bookworm's 1.0.0+git-20190125 ships
#     x86 images only, trixie's 1.21.1 adds ipxe-arm64.efi),
#   - vmlinuz from bookworm's linux-image-<version>-cloud-arm64 (an EFI-stub Image: iPXE starts it as an EFI application),
#   - a busybox initrd (busybox-static:arm64) whose /init prints "NETBOOT-E2E-MARKER cmdline=<...>".
# The arm64 and trixie package lists live in a private apt state under $CACHE/arm64/apt: the
# host's dpkg architectures and sources stay as they are. Idempotent.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${E2E_CACHE_DIR:-$REPO/.cache/e2e}/arm64"
PACKAGES=(qemu-system-arm qemu-efi-aarch64 cpio)
E2E_NAME=e2e-prepare-arm64
# shellcheck source=scripts/e2e/host.sh
source "$REPO/scripts/e2e/host.sh"

# 1. Host packages.
install_packages "${PACKAGES[@]}"
for f in /usr/share/AAVMF/AAVMF_CODE.fd /usr/share/AAVMF/AAVMF_VARS.fd; do
  [[ -f "$f" ]] || die "expected file $f is missing after install"
done
command -v qemu-system-aarch64 >/dev/null || die "qemu-system-aarch64 not found"

if [[ -s "$CACHE/ipxe-arm64.efi" && -s "$CACHE/vmlinuz" ]] && marker_initrd_current "$CACHE/initrd.gz"; then
  log "done (cached): $CACHE/ipxe-arm64.efi $CACHE/vmlinuz $CACHE/initrd.gz"
  exit 0
fi

# 2. A private apt state: bookworm's arm64 lists (kernel, busybox), trixie's amd64 ones (ipxe is
#    Architecture: all, listed there), from the mirror the host's own apt sources name.
APT="$CACHE/apt"
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/preferences.d"
MIRROR="$(grep -rhoE 'https?://[^ ]*/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | grep -v security | head -1 | tr -d ' ' || true)"
[[ -n "$MIRROR" ]] || die "no Debian mirror found in /etc/apt/sources.list*"
cat > "$APT/sources.list" <<EOF
deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${MIRROR%/} bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${MIRROR%/} trixie main
EOF
APT_OPTS=(
  -o "Dir::Etc::sourcelist=$APT/sources.list" -o "Dir::Etc::sourceparts=-"
  -o "Dir::State::lists=$APT/lists" -o "Dir::Cache=$APT/cache" -o "Dir::Etc::preferencesparts=$APT/preferences.d"
  -o "APT::Architectures::=amd64" -o "APT::Architectures::=arm64" -o "APT::Sandbox::User=root"
)
log "apt-get update (private state: bookworm arm64, trixie amd64)"
apt-get "${APT_OPTS[@]}" update -q >/dev/null || die "apt-get update of the private state failed"

# The newest ipxe the lists know (trixie's) and its ipxe-arm64.efi.
version_of() { apt-cache "${APT_OPTS[@]}" madison "$1" 2>/dev/null | awk -v want="$2" '$0 ~ want { print $3; exit }'; }
IPXE_VERSION="$(version_of ipxe trixie)"
[[ -n "$IPXE_VERSION" ]] || die "no ipxe in trixie's lists"
KERNEL_PKG="$(apt-cache "${APT_OPTS[@]}" depends linux-image-cloud-arm64:arm64 2>/dev/null |
  awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9][^ ]*-cloud-arm64/ { sub(/:arm64$/, "", $2); print $2; exit }')"
[[ -n "$KERNEL_PKG" ]] || die "no linux-image-*-cloud-arm64 named by linux-image-cloud-arm64:arm64"

TMP="$(mktemp -d)"
log "downloading ipxe=$IPXE_VERSION, $KERNEL_PKG:arm64, busybox-static:arm64 (extract only)"
(cd "$TMP" && apt-get "${APT_OPTS[@]}" download -q "ipxe=$IPXE_VERSION" "$KERNEL_PKG:arm64" "busybox-static:arm64") || die "apt-get download failed"
for deb in "$TMP"/*.deb; do dpkg-deb -x "$deb" "$TMP/x"; done
mkdir -p "$CACHE"
[[ -s "$TMP/x/usr/lib/ipxe/ipxe-arm64.efi" ]] || die "ipxe $IPXE_VERSION has no usr/lib/ipxe/ipxe-arm64.efi"
cp "$TMP/x/usr/lib/ipxe/ipxe-arm64.efi" "$CACHE/ipxe-arm64.efi"
kernels=("$TMP"/x/boot/vmlinuz-*)
[[ ${#kernels[@]} -eq 1 && -f "${kernels[0]}" ]] || die "expected exactly one boot/vmlinuz-* in $KERNEL_PKG"
cp "${kernels[0]}" "$CACHE/vmlinuz"
(cd "$TMP" && ls ./*.deb | sed 's#^./##') > "$CACHE/packages.txt"

# 3. The initrd: the x86 one's marker /init (scripts/e2e/host.sh), with the arm64 busybox.
build_marker_initrd "$TMP/x/bin/busybox" "$CACHE/initrd.gz"
log "done: $CACHE/ipxe-arm64.efi $CACHE/vmlinuz $CACHE/initrd.gz ($(tr '\n' ' ' < "$CACHE/packages.txt"))"
