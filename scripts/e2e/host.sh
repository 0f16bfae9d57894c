# Sourced by the e2e prepare scripts (set E2E_NAME first, the log prefix): logging, a temporary
# directory ($TMP) removed on exit, and the host packages they install.

log() { echo "[$E2E_NAME] $*"; }
die() { echo "[$E2E_NAME] ERROR: $*" >&2; exit 1; }

TMP=""
cleanup() { if [[ -n "$TMP" ]]; then rm -rf "$TMP"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive

is_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

# Another prepare script may be running apt at the same moment: wait for dpkg's lock, retry.
APT_WAIT=(-o DPkg::Lock::Timeout=300)
apt_retry() {
  local i
  for i in 1 2 3 4 5; do "$@" && return 0; log "apt busy or failing (try $i of 5), again in 10 s"; sleep 10; done
  return 1
}

APT_UPDATED=0
apt_update_once() {
  if [[ $APT_UPDATED -eq 0 ]]; then
    log "apt-get update"
    apt_retry apt-get "${APT_WAIT[@]}" update -q || die "apt-get update failed"
    APT_UPDATED=1
  fi
}

# install_packages PKG...: installs the missing ones. The prepare scripts run at the same moment
# when the e2e test files load: one apt at a time (this lock, held until the script exits), else
# the second dies on dpkg's lock.
install_packages() {
  exec 9>"${TMPDIR:-/tmp}/netboot-e2e-apt.lock"
  flock -w 900 9 || die "waited 15 min for another e2e prepare script's apt run"
  local missing=() p
  for p in "$@"; do is_installed "$p" || missing+=("$p"); done
  if [[ ${#missing[@]} -gt 0 ]]; then
    [[ $(id -u) -eq 0 ]] || die "missing packages (${missing[*]}) and not root: install them with apt-get"
    apt_update_once
    log "installing: ${missing[*]}"
    apt_retry apt-get "${APT_WAIT[@]}" install -y -q --no-install-recommends "${missing[@]}" || die "apt-get install failed"
  else
    log "packages already installed: $*"
  fi
}
