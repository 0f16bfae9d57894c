# Sourced by the e2e prepare scripts (set E2E_NAME first, the log prefix): logging, a temporary
# directory ($TMP) removed on exit, the host packages they install, and the guests' initrd.

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

# The guests' /init, for every architecture: print the kernel command line as the marker the
# tests look for, then power off.
MARKER_INIT='#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
# Kernel messages off the console: they would land inside the marker line (seen under load).
/bin/busybox dmesg -n 1
# The kernel may have found no /dev/console to give init; devtmpfs supplies one.
/bin/busybox mount -t devtmpfs devtmpfs /dev || /bin/busybox true
if [ -c /dev/console ]; then exec >/dev/console 2>&1; fi
echo
echo "NETBOOT-E2E-MARKER cmdline=$(/bin/busybox cat /proc/cmdline)"
# Time for the serial port to send the line before the machine stops (a loaded host cut it once).
/bin/busybox sleep 1
/bin/busybox poweroff -f'

# build_marker_initrd BUSYBOX OUT: a newc cpio (gzip) of the static BUSYBOX and MARKER_INIT, with
# the /init kept beside it as OUT's directory/init.sh (a cache whose init.sh differs is stale).
build_marker_initrd() {
  local busybox="$1" out="$2" root
  root="$(mktemp -d)"
  mkdir -p "$root/bin" "$root/proc" "$root/dev"
  cp "$busybox" "$root/bin/busybox"
  printf '%s\n' "$MARKER_INIT" > "$root/init"
  chmod 0755 "$root/init" "$root/bin/busybox"
  (cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --quiet) | gzip -9 > "$out.tmp" || { rm -rf "$root"; die "building the initrd failed"; }
  rm -rf "$root"
  mv "$out.tmp" "$out"
  printf '%s' "$MARKER_INIT" > "$(dirname "$out")/init.sh"
}

# marker_initrd_current OUT: OUT exists and was built with this MARKER_INIT.
marker_initrd_current() {
  [[ -s "$1" && "$(cat "$(dirname "$1")/init.sh" 2>/dev/null)" == "$MARKER_INIT" ]]
}
