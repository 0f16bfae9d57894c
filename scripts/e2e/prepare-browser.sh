#!/usr/bin/env bash
# Prepares what the console's browser tests (test/console/*.test.ts) need: Debian's Chromium,
# driven by puppeteer-core (npm; no browser is downloaded). Idempotent.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PACKAGES=(chromium fonts-dejavu-core)
E2E_NAME=browser-prepare
# shellcheck source=scripts/e2e/host.sh
source "$REPO/scripts/e2e/host.sh"

install_packages "${PACKAGES[@]}"
[[ -x /usr/bin/chromium ]] || die "/usr/bin/chromium is missing after install"
log "$(/usr/bin/chromium --version 2>/dev/null || echo 'chromium installed')"
