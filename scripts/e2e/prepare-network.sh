#!/usr/bin/env bash
# Prepares the boot-network e2e tests (test/e2e/boot-network.ts, test/e2e/https-*.test.ts): a
# network namespace per test file with Debian's dnsmasq (DHCP, proxyDHCP, TFTP) and QEMU machines
# on tap devices, booting from SeaBIOS (the NIC's PXE ROM), OVMF and AAVMF. Root only (namespaces,
# tap devices). Idempotent.
# - iproute2: ip netns / bridge / tuntap;
# - dnsmasq-base: dnsmasq without the system service;
# - p11-kit: `p11-kit extract --format=edk2-cacerts` (OVMF's HTTPS CA store, for the docs' recipe);
# - qemu-system-x86, ipxe-qemu (the NIC's PXE ROM), ovmf; qemu-system-arm, qemu-efi-aarch64 (AAVMF).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PACKAGES=(iproute2 dnsmasq-base p11-kit qemu-system-x86 ipxe-qemu ovmf qemu-system-arm qemu-efi-aarch64)
E2E_NAME=e2e-prepare-network
# shellcheck source=scripts/e2e/host.sh
source "$REPO/scripts/e2e/host.sh"

[[ $(id -u) -eq 0 ]] || die "boot networks need root (network namespaces, tap devices)"
install_packages "${PACKAGES[@]}"
for f in /usr/share/OVMF/OVMF_CODE_4M.fd /usr/share/OVMF/OVMF_VARS_4M.fd /usr/share/AAVMF/AAVMF_CODE.fd /usr/share/AAVMF/AAVMF_VARS.fd; do
  [[ -f "$f" ]] || die "expected file $f is missing after install"
done
for t in ip dnsmasq p11-kit qemu-system-x86_64 qemu-system-aarch64; do
  command -v "$t" >/dev/null || die "$t not found after install"
done
[[ -c /dev/net/tun ]] || die "/dev/net/tun is missing: QEMU cannot open tap devices"
log "done: $(dnsmasq --version | head -1)"
