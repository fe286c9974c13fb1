#!/usr/bin/env bash
# A local demo Dovecot on 127.0.0.1 with fixed ports, rendered from the same
# template the integration tests use (tests/dovecot/dovecot.conf.template).
#
#   scripts/demo-dovecot.sh start DIR                  # state, log and pid in DIR
#   scripts/demo-dovecot.sh add-user DIR NAME PASSWORD
#   scripts/demo-dovecot.sh stop DIR                   # stops only DIR's dovecot
#
# Ports: IMAP 10143 (STARTTLS), IMAPS 10993, POP3 10110 (STLS), POP3S 10995.
# Must run as root: Dovecot switches mail processes to the 'nobody' account.
set -euo pipefail

readonly IMAP_PORT=10143 IMAPS_PORT=10993 POP3_PORT=10110 POP3S_PORT=10995
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly template="$script_dir/../tests/dovecot/dovecot.conf.template"

die() { echo "demo-dovecot: $*" >&2; exit 1; }

usage() {
  sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# Prints DIR as an absolute path (Dovecot accepts only absolute paths).
absolute_dir() {
  mkdir -p "$1"
  (cd "$1" && pwd)
}

# Prints the PID from DIR/dovecot.pid if that process is alive and is dovecot;
# a stale file whose PID now belongs to something else is never trusted.
running_pid() {
  local pidfile="$1/dovecot.pid" pid
  [[ -f $pidfile ]] || return 1
  pid="$(<"$pidfile")"
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == dovecot ]] || return 1
  echo "$pid"
}

find_dovecot() {
  if [[ -x /usr/sbin/dovecot ]]; then echo /usr/sbin/dovecot; return; fi
  command -v dovecot || die "dovecot not found. Install with: apt-get install -y dovecot-imapd dovecot-pop3d"
}

render_config() {
  local dir="$1" mail_uid mail_gid
  mail_uid="$(id -u nobody)"
  mail_gid="$(id -g nobody)"
  # '|' cannot occur in the values below (DIR is checked in cmd_start).
  sed -e "s|@@ROOT@@|$dir|g" \
      -e "s|@@INSTANCE@@|mailsync-demo|g" \
      -e "s|@@INTERNAL_USER@@|dovecot|g" \
      -e "s|@@LOGIN_USER@@|dovenull|g" \
      -e "s|@@MAIL_UID@@|$mail_uid|g" \
      -e "s|@@MAIL_GID@@|$mail_gid|g" \
      -e "s|@@NS_SEPARATOR@@|/|g" \
      -e "s|@@NS_PREFIX@@||g" \
      -e "s|@@SPECIAL_AUTO@@|subscribe|g" \
      -e "s|@@MAX_USER_CONNECTIONS@@|10|g" \
      -e "s|@@AUTH_MECHANISMS@@|plain login|g" \
      -e "s|@@POP3_LOCK_SESSION@@|no|g" \
      -e "s|@@SSL@@|yes|g" \
      -e "s|@@MAIL_PLUGINS@@||g" \
      -e "s|@@IMAP_PLUGINS@@||g" \
      -e "s|@@IMAP_CAPABILITY@@||g" \
      -e "s|@@QUOTA_STORAGE@@|0|g" \
      -e "s|@@QUOTA_MAX_MAIL_SIZE@@|0|g" \
      -e "s|@@IMAP_PORT@@|$IMAP_PORT|g" \
      -e "s|@@IMAPS_PORT@@|$IMAPS_PORT|g" \
      -e "s|@@POP3_PORT@@|$POP3_PORT|g" \
      -e "s|@@POP3S_PORT@@|$POP3S_PORT|g" \
      "$template" >"$dir/dovecot.conf"
  if grep -n '@@[A-Z_]*@@' "$dir/dovecot.conf" >&2; then
    die "the template has tokens this script does not fill (see above)"
  fi
}

make_certificate() {
  local tls="$1/tls"
  mkdir -p "$tls"
  [[ -s $tls/cert.pem && -s $tls/key.pem ]] && return
  # Same openssl call as DovecotServer.CreateCertificateAsync in the tests.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$tls/key.pem" -out "$tls/cert.pem" -days 3650 -subj /CN=localhost \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null \
    || die "openssl failed to create a certificate. Install with: apt-get install -y openssl"
  chmod 600 "$tls/key.pem"
}

# True once the IMAP port greets with "* OK".
imap_ready() {
  local greeting
  greeting="$(timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$IMAP_PORT && head -c 4 <&3" 2>/dev/null)" || return 1
  [[ $greeting == "* OK" ]]
}

cmd_start() {
  local dir pid dovecot
  [[ $(id -u) -eq 0 ]] || die "must run as root (Dovecot drops mail processes to 'nobody')"
  dir="$(absolute_dir "$1")"
  [[ $dir != *'|'* && $dir != *' '* ]] || die "DIR must not contain '|' or spaces: $dir"
  if pid="$(running_pid "$dir")"; then
    echo "demo Dovecot already running (pid $pid) in $dir"
    return
  fi
  dovecot="$(find_dovecot)"

  # Login and mail processes run unprivileged and must reach into DIR.
  chmod 755 "$dir"
  mkdir -p "$dir/users.d" "$dir/mail"
  chown nobody:"$(id -gn nobody)" "$dir/mail"
  make_certificate "$dir"
  render_config "$dir"

  # setsid: the server outlives this shell and its terminal.
  setsid "$dovecot" -F -c "$dir/dovecot.conf" </dev/null >>"$dir/dovecot.out" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/dovecot.pid"

  for _ in $(seq 1 300); do
    if imap_ready; then
      echo "demo Dovecot running (pid $pid) in $dir"
      echo "  IMAP 127.0.0.1:$IMAP_PORT (STARTTLS)  IMAPS :$IMAPS_PORT  POP3 :$POP3_PORT (STLS)  POP3S :$POP3S_PORT"
      echo "  certificate $dir/tls/cert.pem"
      openssl x509 -in "$dir/tls/cert.pem" -noout -fingerprint -sha256 | sed 's/^/  /'
      echo "  log $dir/dovecot.log"
      return
    fi
    # Plain liveness: until setsid has exec'd, the process is not yet named dovecot.
    [[ -d /proc/$pid ]] || break
    sleep 0.1
  done
  echo "demo-dovecot: Dovecot did not come up. Output and log tail:" >&2
  cat "$dir/dovecot.out" >&2 || true
  tail -n 20 "$dir/dovecot.log" >&2 2>/dev/null || true
  [[ -d /proc/$pid ]] && kill -TERM "$pid"
  rm -f "$dir/dovecot.pid"
  exit 1
}

cmd_add_user() {
  local dir name="$2" password="$3" file
  dir="$(absolute_dir "$1")"
  [[ $name =~ ^[A-Za-z0-9._@-]+$ ]] || die "NAME may use letters, digits, '.', '_', '@' and '-' only"
  [[ $password != *:* && $password != *$'\n'* && -n $password ]] || die "PASSWORD must be non-empty without ':' or newlines"
  mkdir -p "$dir/users.d"
  # One passwd-file per user, written then renamed, exactly as the test fixture does.
  file="$dir/users.d/$name"
  printf '%s:{PLAIN}%s::::::\n' "$name" "$password" >"$file.tmp"
  mv -f "$file.tmp" "$file"
  echo "user $name added"
}

cmd_stop() {
  local dir pid
  dir="$(absolute_dir "$1")"
  if ! pid="$(running_pid "$dir")"; then
    echo "no demo Dovecot running in $dir"
    rm -f "$dir/dovecot.pid"
    return
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 150); do
    [[ -d /proc/$pid ]] || break
    sleep 0.1
  done
  [[ -d /proc/$pid ]] && die "pid $pid did not exit within 15 s after SIGTERM"
  rm -f "$dir/dovecot.pid"
  echo "demo Dovecot (pid $pid) stopped"
}

case "${1:-}" in
  start) [[ $# -eq 2 ]] || usage; cmd_start "$2" ;;
  add-user) [[ $# -eq 4 ]] || usage; cmd_add_user "$2" "$3" "$4" ;;
  stop) [[ $# -eq 2 ]] || usage; cmd_stop "$2" ;;
  *) usage ;;
esac
