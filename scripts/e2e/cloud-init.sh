#!/usr/bin/env bash
# Extracts Debian's cloud-init (and the Python modules it imports) into a cache directory,
# without installing it (a host's cloud-init would act on the host at its next boot): the
# tests run `cloud-init schema --config-file` and cloud-init's own NoCloud seed reader
# (cloudinit.util.read_seeded, what `ds=nocloud;s=URL/` uses) against the local stack.
# Prints the directory to put on PYTHONPATH/PATH (ROOT/usr/lib/python3/dist-packages, ROOT/usr/bin).
# Idempotent; needs apt-get (Debian 12) and python3.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${E2E_CACHE_DIR:-$REPO/.cache/e2e}/cloud-init"
ROOT="$CACHE/root"
PACKAGES=(cloud-init python3-configobj python3-jinja2 python3-markupsafe python3-jsonschema python3-attr python3-pyrsistent
  python3-jsonpatch python3-json-pointer python3-netifaces python3-requests python3-urllib3 python3-idna python3-certifi
  python3-charset-normalizer python3-chardet python3-yaml)

log() { echo "[cloud-init-prepare] $*" >&2; }

if [[ -x "$ROOT/usr/bin/cloud-init" && -f "$CACHE/.complete" ]]; then echo "$ROOT"; exit 0; fi
command -v python3 >/dev/null || { log "python3 is missing"; exit 1; }
command -v apt-get >/dev/null || { log "apt-get is missing (Debian only)"; exit 1; }
rm -rf "$CACHE"
mkdir -p "$CACHE/debs" "$ROOT"
cd "$CACHE/debs"
if ! apt-get download "${PACKAGES[@]}" >&2 2>"$CACHE/download.log"; then
  if [[ $(id -u) -eq 0 ]]; then
    log "apt-get update"
    apt-get update -q >&2
    apt-get download "${PACKAGES[@]}" >&2
  else
    cat "$CACHE/download.log" >&2
    exit 1
  fi
fi
for deb in ./*.deb; do dpkg -x "$deb" "$ROOT"; done
PYTHONPATH="$ROOT/usr/lib/python3/dist-packages" python3 "$ROOT/usr/bin/cloud-init" --version >&2
touch "$CACHE/.complete"
echo "$ROOT"
