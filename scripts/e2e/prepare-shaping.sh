#!/usr/bin/env bash
# Prepares bench/shaped-upload.ts (upload sessions over a shaped link): a network namespace with a
# veth pair to the host, shaped with tc's tbf. Root only (namespaces, qdiscs). Idempotent.
# - iproute2: ip netns / link / addr, and tc.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
E2E_NAME=bench-prepare-shaping
# shellcheck source=scripts/e2e/host.sh
source "$REPO/scripts/e2e/host.sh"

[[ $(id -u) -eq 0 ]] || die "a shaped link needs root (network namespaces, tc qdiscs)"
install_packages iproute2
for t in ip tc; do
  command -v "$t" >/dev/null || die "$t not found after install"
done
log "done: $(ip -V)"
