#!/usr/bin/env bash
# Installs the IMAP servers the integration tests start privately, besides Dovecot (which
# .ci/run installs with apt-get). Idempotent and non-interactive; run it as root (or with
# passwordless sudo). Every server gets its own install_<name> function so that parts added
# in separate branches merge without touching each other.
#
#   scripts/install-test-servers.sh            # install everything
#   scripts/install-test-servers.sh cyrus      # only the named parts (cyrus, courier)
#
# Cache root: $MAILSYNC_TEST_SERVERS (default /opt/mailsync-test-servers). The tests look in the
# same place (CyrusServer: $MAILSYNC_CYRUS_DIR, else $MAILSYNC_TEST_SERVERS/cyrus; CourierServer:
# $MAILSYNC_TEST_SERVERS/courier).
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
cache_root="${MAILSYNC_TEST_SERVERS:-/opt/mailsync-test-servers}"
CACHE_ROOT="$cache_root"

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  sudo=(sudo -n)
fi

# MAILSYNC_APT_UPDATED=1: the caller (.ci/run) has just run apt-get update.
apt_updated=${MAILSYNC_APT_UPDATED:-0}
# apt-get update at most once per run, and only when a part actually needs the registry.
apt_update_once() {
  if [[ $apt_updated -eq 0 ]]; then
    "${sudo[@]}" apt-get update
    apt_updated=1
  fi
}

# ---------------------------------------------------------------------------------------------
# Cyrus IMAP 3.6 (Debian 12's cyrus-imapd + cyrus-common), unpacked, not installed.
#
# cyrus-imapd Conflicts: imap-server, which dovecot-imapd provides, so apt-get install would
# remove Dovecot. Instead the two .debs are fetched with apt-get download and unpacked with
# dpkg -x into $cache_root/cyrus; their maintainer scripts never run, so no 'cyrus' account, no
# /etc/imapd.conf and no system service appear. The binaries have no RUNPATH: the test fixture
# (tests/MailSync.Tests/Infrastructure/CyrusServer.cs) sets LD_LIBRARY_PATH to
# $cache_root/cyrus/usr/lib/x86_64-linux-gnu for libcyrus*.so and passes -C to every program.
# The shared libraries cyrus-common links against that are not already on a Debian 12 base
# (libclamav12, libical3, libxapian30, libzephyr4 at the time of writing) conflict with nothing
# and are apt-get installed normally. The non-library Depends (an MTA, db-util, perl, ...)
# are for the package's scripts, not for master/imapd, and are not installed.
# ---------------------------------------------------------------------------------------------
install_cyrus() {
  local dest="$cache_root/cyrus"
  local libs=(libc6 libclamav12 libcom-err2 libgcc-s1 libical3 libicu72 libjansson4 libkrb5-3
    libldap-2.5-0 libpcre3 libpq5 libsasl2-2 libsasl2-modules libsqlite3-0 libssl3 libstdc++6
    libwrap0 libxapian30 libxml2 libzephyr4 zlib1g)

  local missing=()
  local lib
  for lib in "${libs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$lib" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$lib")
    fi
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    apt_update_once
    # None of these ships a service, so no policy-rc.d guard is needed here.
    "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
  fi

  # The unpacked tree is kept when it is the candidate version: re-runs cost no download.
  local want
  want=$(apt-cache policy cyrus-imapd | awk '/Candidate:/ { print $2 }')
  if [[ -z $want || $want == "(none)" ]]; then
    apt_update_once
    want=$(apt-cache policy cyrus-imapd | awk '/Candidate:/ { print $2 }')
  fi
  if [[ -z $want || $want == "(none)" ]]; then
    echo "install_cyrus: apt knows no cyrus-imapd package (is Debian main in the sources?)" >&2
    return 1
  fi
  if [[ -x $dest/usr/lib/cyrus/bin/imapd && -f $dest/.version && $(cat "$dest/.version") == "$want" ]]; then
    echo "install_cyrus: Cyrus $want already unpacked in $dest"
    return 0
  fi

  local work
  work=$(mktemp -d)
  # apt-get download runs as _apt when it can; a world-writable work folder keeps it sandboxed.
  chmod 777 "$work"
  if ! (cd "$work" && apt-get download "cyrus-imapd=$want" "cyrus-common=$want"); then
    apt_update_once
    (cd "$work" && apt-get download "cyrus-imapd=$want" "cyrus-common=$want")
  fi

  # Unpack next to the destination and swap it in, so a failed run never leaves half a tree.
  local staging="$dest.new.$$"
  "${sudo[@]}" mkdir -p "$cache_root"
  "${sudo[@]}" rm -rf "$staging"
  "${sudo[@]}" mkdir -p "$staging"
  local deb
  for deb in "$work"/*.deb; do
    "${sudo[@]}" dpkg -x "$deb" "$staging"
  done
  rm -rf "$work"
  echo "$want" | "${sudo[@]}" tee "$staging/.version" >/dev/null

  # Fails here, not in the tests, when a library is still missing.
  local unresolved
  unresolved=$(LD_LIBRARY_PATH="$staging/usr/lib/x86_64-linux-gnu" \
    ldd "$staging/usr/lib/cyrus/bin/master" "$staging/usr/lib/cyrus/bin/imapd" \
        "$staging/usr/lib/cyrus/bin/ctl_cyrusdb" | grep 'not found' || true)
  if [[ -n $unresolved ]]; then
    echo "install_cyrus: unresolved libraries:" >&2
    echo "$unresolved" >&2
    "${sudo[@]}" rm -rf "$staging"
    return 1
  fi

  "${sudo[@]}" rm -rf "$dest"
  "${sudo[@]}" mv "$staging" "$dest"
  echo "install_cyrus: Cyrus $want unpacked in $dest"
}

# ---------------------------------------------------------------------------------------------
# Courier IMAP
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

main() {
  local parts=("$@")
  if [[ ${#parts[@]} -eq 0 ]]; then
    parts=(cyrus courier)
  fi

  local part
  for part in "${parts[@]}"; do
    if ! declare -F "install_$part" >/dev/null; then
      echo "install-test-servers.sh: unknown part '$part'" >&2
      exit 2
    fi
    "install_$part"
  done
}

main "$@"
