#!/usr/bin/env bash
# Prepares test/ipxe-dhcp.test.ts: the DHCP servers whose own configuration checks judge what
# `netboot ipxe dhcp` prints, and what it takes to start the dnsmasq one in a network namespace.
# - dnsmasq-base: `dnsmasq --test`, and the real server (DHCP, proxyDHCP, TFTP) without a system service;
# - isc-dhcp-server: `dhcpd -t -cf FILE`;
# - kea-dhcp4-server: `kea-dhcp4 -t FILE`;
# - iproute2: `ip netns`, veth pairs.
# The daemons' own services are not wanted: nothing here starts or enables them. Idempotent.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PACKAGES=(dnsmasq-base isc-dhcp-server kea-dhcp4-server iproute2)
E2E_NAME=prepare-dhcp
# shellcheck source=scripts/e2e/host.sh
source "$REPO/scripts/e2e/host.sh"

install_packages "${PACKAGES[@]}"
for t in dnsmasq dhcpd kea-dhcp4 ip; do
  command -v "$t" >/dev/null || [[ -x "/usr/sbin/$t" ]] || die "$t not found after install"
done
log "done: $(dnsmasq --version | head -1); $(/usr/sbin/dhcpd --version 2>&1 | head -1); kea-dhcp4 $(kea-dhcp4 -v 2>&1 | head -1)"
