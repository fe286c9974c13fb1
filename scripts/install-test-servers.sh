#!/usr/bin/env bash
# Installs the extra IMAP servers the integration tests run privately (as child processes on
# 127.0.0.1, with their state in temp folders), without touching the system's own mail setup.
#
#   scripts/install-test-servers.sh            # everything
#   scripts/install-test-servers.sh courier    # only the named parts
#
# Idempotent and non-interactive; run it as root (or with passwordless sudo), e.g. from .ci/run.
# Cache: $MAILSYNC_TEST_SERVERS (default /opt/mailsync-test-servers), one folder per server.
#
# Courier IMAP 5.0 (Debian 12 courier-imap) -> $MAILSYNC_TEST_SERVERS/courier
#   courier-imap conflicts with dovecot-imapd (both provide imap-server), so it is NOT installed:
#   its .debs (and those of courier-base, courier-authlib, ...) are fetched with apt-get download
#   and unpacked with dpkg -x into $MAILSYNC_TEST_SERVERS/courier/root. No maintainer script runs,
#   no user, service, /etc/courier or /run/courier is created on the host. The test fixture
#   (tests/MailSync.Tests/Infrastructure/CourierServer.cs) runs it in a private mount namespace
#   that overlays root/usr on /usr and binds its own temp folders on /etc/courier and
#   /run/courier. Only the plain shared libraries it links against, which conflict with nothing,
#   are apt-get installed normally. A stamp file records the package versions, so a second run
#   does nothing unless Debian published new versions.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
CACHE_ROOT="${MAILSYNC_TEST_SERVERS:-/opt/mailsync-test-servers}"

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  sudo=(sudo -n)
fi

# MAILSYNC_APT_UPDATED=1: the caller (.ci/run) has just run apt-get update.
apt_updated=${MAILSYNC_APT_UPDATED:-0}
apt_update_once() {
  if [[ $apt_updated -eq 0 ]]; then
    "${sudo[@]}" apt-get update -qq
    apt_updated=1
  fi
}

# ---------------------------------------------------------------------------------------------
# Courier IMAP
# ---------------------------------------------------------------------------------------------
COURIER_PACKAGES=(courier-imap courier-base courier-authlib courier-authdaemon courier-authlib-userdb libcourier-unicode4)
# Shared libraries the unpacked binaries link against (libfam via libgamin0, libidn, libltdl);
# libc6, libgdbm6, libgnutls30, libpcre3, libpam0g, libcrypt1 and perl (makeuserdb) are in a
# base Debian 12 system already but are listed so a slim image gets them too.
COURIER_RUNTIME_DEPS=(libgamin0 libidn12 libltdl7 libgdbm6 libgnutls30 libpcre3 libpam0g libcrypt1 perl util-linux)

courier_versions() {
  local p
  for p in "${COURIER_PACKAGES[@]}"; do
    printf '%s=%s\n' "$p" "$(apt-cache policy "$p" | awk '/Candidate:/ { print $2 }')"
  done
}

install_courier() {
  local dir="$CACHE_ROOT/courier"
  local stamp="$dir/packages.txt"

  local missing=()
  local p
  for p in "${COURIER_RUNTIME_DEPS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done

  local wanted
  wanted=$(courier_versions)
  if [[ $wanted == *"=(none)"* || $wanted == *"="$'\n'* || -n ${missing[*]} ]]; then
    apt_update_once
    wanted=$(courier_versions)
  fi
  if [[ ${#missing[@]} -gt 0 ]]; then
    "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
  fi

  if [[ -f $stamp && $(cat "$stamp") == "$wanted" && -x $dir/root/usr/bin/imapd ]]; then
    echo "install-test-servers: Courier already unpacked in $dir ($(head -1 "$stamp"))"
    return 0
  fi
  if [[ $wanted == *"=(none)"* ]]; then
    echo "install-test-servers: apt knows no candidate for some Courier package:" >&2
    echo "$wanted" >&2
    return 1
  fi

  # Download and unpack next to the cache and swap it in at the end, so a failed or
  # interrupted run never leaves a half-unpacked tree behind the stamp.
  "${sudo[@]}" mkdir -p "$CACHE_ROOT"
  local work
  work=$("${sudo[@]}" mktemp -d "$CACHE_ROOT/.courier-new.XXXXXX")
  "${sudo[@]}" chmod 755 "$work"
  # apt-get download writes into the current folder as the sandbox user _apt when it can
  # (else it warns and downloads unsandboxed).
  if id _apt >/dev/null 2>&1; then "${sudo[@]}" chown _apt "$work"; fi
  (cd "$work" && "${sudo[@]}" apt-get download "${COURIER_PACKAGES[@]}" </dev/null)
  "${sudo[@]}" chown -R root:root "$work"
  "${sudo[@]}" mkdir "$work/root"
  local deb
  for deb in "$work"/*.deb; do
    "${sudo[@]}" dpkg -x "$deb" "$work/root"
  done
  "${sudo[@]}" mkdir "$work/debs"
  "${sudo[@]}" mv "$work"/*.deb "$work/debs/"
  printf '%s\n' "$wanted" | "${sudo[@]}" tee "$work/packages.txt" >/dev/null

  for p in usr/bin/imapd usr/lib/courier/courier/imaplogin usr/lib/courier/courier-authlib/authdaemond \
           usr/sbin/couriertcpd usr/sbin/makeuserdb usr/lib/courier-authlib/libauthuserdb.so; do
    if [[ ! -e $work/root/$p ]]; then
      echo "install-test-servers: unpacked Courier lacks $p" >&2
      "${sudo[@]}" rm -rf "$work"
      return 1
    fi
  done

  "${sudo[@]}" rm -rf "$dir.old"
  if [[ -e $dir ]]; then
    "${sudo[@]}" mv "$dir" "$dir.old"
  fi
  "${sudo[@]}" mv "$work" "$dir"
  "${sudo[@]}" rm -rf "$dir.old"
  echo "install-test-servers: Courier unpacked in $dir ($(head -1 "$dir/packages.txt"))"
}

# ---------------------------------------------------------------------------------------------

main() {
  local parts=("$@")
  if [[ ${#parts[@]} -eq 0 ]]; then
    parts=(courier)
  fi

  local part
  for part in "${parts[@]}"; do
    case $part in
      courier) install_courier ;;
      *) echo "install-test-servers: unknown part '$part' (known: courier)" >&2; exit 2 ;;
    esac
  done
}

main "$@"
