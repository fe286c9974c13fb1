#!/usr/bin/env bash
# Installs the IMAP servers the integration tests start privately, besides Dovecot (which
# .ci/run installs with apt-get). Idempotent and non-interactive; run it as root (or with
# passwordless sudo). Every server gets its own install_<name> function so that parts added
# in separate branches merge without touching each other.
#
#   scripts/install-test-servers.sh            # install everything
#   scripts/install-test-servers.sh cyrus      # only the named parts
#
# Cache root: $MAILSYNC_TEST_SERVERS (default /opt/mailsync-test-servers). The tests look in the
# same place (CyrusServer: $MAILSYNC_CYRUS_DIR, else $MAILSYNC_TEST_SERVERS/cyrus).
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
cache_root="${MAILSYNC_TEST_SERVERS:-/opt/mailsync-test-servers}"

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  sudo=(sudo -n)
fi

apt_updated=0
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

main() {
  local parts=("$@")
  if [[ ${#parts[@]} -eq 0 ]]; then
    parts=(cyrus)
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
