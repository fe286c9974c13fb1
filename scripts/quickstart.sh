#!/usr/bin/env bash
# One-command quick start: a local demo Dovecot with two seeded "old" IMAP mailboxes
# and one POP3 maildrop, then `mailsync run samples.json` copies them into the "new" ones.
#
#   scripts/quickstart.sh [MAILSYNC RUN OPTIONS...]   # e.g. --dry-run, --job alice, -v
#
# 1. Installs Dovecot if missing (no system service is started), stops a demo
#    left by an earlier run, starts scripts/demo-dovecot.sh in .demo/dovecot.
# 2. Gives the six users of samples.json fresh random passwords in
#    .demo/secrets/<user> (mode 600), where samples.json's "file:" references point.
# 3. First time only: seeds demo-alice-old, demo-bob-old and demo-carol-pop with messages from
#    ../shared/corpus/messages. Later runs keep the mailboxes and the checkpoint
#    ledger, so running this script again copies nothing new.
#    Start over: scripts/demo-dovecot.sh stop .demo/dovecot && rm -rf .demo samples.state.db
# 4. Runs mailsync and exits with its exit code; the demo server keeps running.
# Must run as root (Dovecot switches mail processes to 'nobody').
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$(pwd)"
readonly demo_dir="$repo/.demo/dovecot" secrets_dir="$repo/.demo/secrets"
readonly corpus="$repo/../shared/corpus" seeded_marker="$repo/.demo/seeded" seeded_pop_marker="$repo/.demo/seeded-pop"
readonly job_file="samples.json" report=".demo/report.json"
readonly users=(demo-alice-old demo-alice-new demo-bob-old demo-bob-new demo-carol-pop demo-carol-new)
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1

die() { echo "quickstart: $*" >&2; exit 1; }
step() { printf '\n==> %s\n' "$*"; }

[[ $(id -u) -eq 0 ]] || die "must run as root (the demo Dovecot switches mail processes to 'nobody'); try: sudo $0 $*"
command -v dotnet >/dev/null || die "the .NET SDK is not on PATH (https://dot.net); MailSync needs .NET 10"
[[ -f $corpus/index.tsv && -d $corpus/messages ]] \
  || die "the shared message corpus is missing: expected $corpus/index.tsv and $corpus/messages/ (clone it next to this repository as ../shared/corpus)"

# --- 1. Dovecot -------------------------------------------------------------------
if [[ ! -x /usr/sbin/dovecot ]] && ! command -v dovecot >/dev/null; then
  step "Installing Dovecot (the system service is not started)"
  export DEBIAN_FRONTEND=noninteractive
  # Same guard as .ci/run: Debian's policy-rc.d hook forbids service starts during the
  # install, unless the machine already has its own policy (then it is left alone).
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# Temporary, from MailSync scripts/quickstart.sh: no service starts during apt-get install.\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
  fi
  remove_policy() { if [[ $own_policy -eq 1 ]]; then rm -f "$policy"; own_policy=0; fi; }
  trap remove_policy EXIT
  apt-get update
  apt-get install -y dovecot-imapd dovecot-pop3d openssl </dev/null
  remove_policy
  trap - EXIT
fi

step "Starting the demo Dovecot in .demo/dovecot"
scripts/demo-dovecot.sh stop "$demo_dir"   # only the one whose pid is in .demo/dovecot/dovecot.pid
scripts/demo-dovecot.sh start "$demo_dir"
doveadm=(doveadm -c "$demo_dir/dovecot.conf")

# --- 2. Users and secrets ----------------------------------------------------------
step "Creating the users of samples.json (passwords in .demo/secrets/)"
mkdir -p "$secrets_dir"
chmod 700 "$secrets_dir"
for user in "${users[@]}"; do
  password="$(openssl rand -hex 16)"
  (umask 077 && printf '%s\n' "$password" >"$secrets_dir/$user")
  chmod 600 "$secrets_dir/$user"
  scripts/demo-dovecot.sh add-user "$demo_dir" "$user" "$password" >/dev/null
  echo "  $user  password in .demo/secrets/$user"
done

# --- 3. Seed the old mailboxes (once) ----------------------------------------------
# Well-formed messages only (the tests cover the broken ones), up to 200 kB each, in a
# stable but mixed order (sorted by SHA-256), so every run seeds the same mail.
pick_messages() {
  awk -F'\t' 'NR > 1 && $1 ~ /^messages\// && $2 > 0 && $2 <= 200000 \
      && $4 !~ /(^|,)(empty|no-headers|no-header-separator|has-nul|bare-cr|no-eol|from-line|malformed-header|bom|mixed-eol|large)(,|$)/ \
      { print $3 "\t" $1 }' "$corpus/index.tsv" | sort | cut -f2
}

# seed USER FOLDER COUNT: saves the next COUNT picked messages into FOLDER.
next_message=0
seed() {
  local user="$1" folder="$2" count="$3" i
  for ((i = 0; i < count; i++)); do
    [[ $next_message -lt ${#messages[@]} ]] || die "the corpus has too few usable messages"
    "${doveadm[@]}" save -u "$user" -m "$folder" <"$corpus/${messages[next_message]}" \
      || die "doveadm save failed for ${messages[next_message]} (see $demo_dir/dovecot.log)"
    next_message=$((next_message + 1))
  done
  echo "  $user: $count messages in \"$folder\""
}

if [[ -f $seeded_marker ]]; then
  step "Old mailboxes already seeded (earlier run): keeping them and the ledger"
else
  step "Seeding demo-alice-old and demo-bob-old from ../shared/corpus"
  # A half-seeded or foreign demo is wiped: mailboxes of all four users and the ledger.
  for user in "${users[@]}"; do rm -rf "${demo_dir:?}/mail/$user"; done
  rm -f samples.state.db samples.state.db-* samples.state.db.lock "$report" "$seeded_pop_marker"
  mapfile -t messages < <(pick_messages)
  started=$SECONDS

  "${doveadm[@]}" mailbox create -u demo-alice-old -s "Sent Items" "Projects" "Projects/2024" "Projects/2025"
  seed demo-alice-old INBOX 70
  seed demo-alice-old "Sent Items" 30
  seed demo-alice-old "Projects/2024" 25
  seed demo-alice-old "Projects/2025" 25
  "${doveadm[@]}" flags add -u demo-alice-old '\Seen' mailbox INBOX uid 1:50
  "${doveadm[@]}" flags add -u demo-alice-old '\Flagged' mailbox INBOX uid 3:8
  "${doveadm[@]}" flags add -u demo-alice-old '\Answered' mailbox INBOX uid 10:15
  "${doveadm[@]}" flags add -u demo-alice-old '$Important' mailbox INBOX uid 20:25
  "${doveadm[@]}" flags add -u demo-alice-old '\Seen' mailbox "Sent Items" all
  "${doveadm[@]}" flags add -u demo-alice-old '\Seen' mailbox "Projects/2024" all
  "${doveadm[@]}" flags add -u demo-alice-old 'ProjectX' mailbox "Projects/2025" uid 1:10

  # Archive/Old stays unsubscribed: subscriptions are copied as they are.
  "${doveadm[@]}" mailbox create -u demo-bob-old "Archive/Old"
  seed demo-bob-old INBOX 70
  seed demo-bob-old "Archive/Old" 30
  "${doveadm[@]}" flags add -u demo-bob-old '\Seen' mailbox INBOX uid 1:40
  "${doveadm[@]}" flags add -u demo-bob-old '\Flagged' mailbox INBOX uid 41:45
  "${doveadm[@]}" flags add -u demo-bob-old '\Seen' mailbox "Archive/Old" all

  touch "$seeded_marker"
  echo "  seeded in $((SECONDS - started)) s"
fi

# The POP3 maildrop has its own marker, so a demo seeded before it existed gets it too.
if [[ ! -f $seeded_pop_marker ]]; then
  step "Seeding the POP3 maildrop of demo-carol-pop from ../shared/corpus"
  rm -rf "${demo_dir:?}/mail/demo-carol-pop" "${demo_dir:?}/mail/demo-carol-new"
  mapfile -t messages < <(pick_messages)
  next_message=200   # other messages than alice's and bob's
  seed demo-carol-pop INBOX 40
  touch "$seeded_pop_marker"
fi

# --- 4. Build and run mailsync -----------------------------------------------------
args=(run "$job_file" --report "$report")
# Logs go to .demo/logs (rolling daily) unless the caller chose a log file.
if [[ " $* " != *" --log-file"* ]]; then
  args+=(--log-file .demo/logs/mailsync-.log)
fi
step "dotnet run --project src/MailSync.Cli -c Release -- ${args[*]} $*"
set +e
dotnet run --project src/MailSync.Cli -c Release -- "${args[@]}" "$@"
status=$?
set -e

cat <<EOF

==> mailsync exited with code $status (0 = everything copied; see README.md "Exit codes")
  Report:  $repo/$report
  Ledger:  $repo/samples.state.db   (the checkpoint that makes re-runs resume)
  Log:     $repo/.demo/logs/

Run it again: nothing is copied twice, the summary shows "0 appended":
  scripts/quickstart.sh        (keeps the seeded mailboxes and the ledger), or just mailsync:
  dotnet run --project src/MailSync.Cli -c Release -- run samples.json --log-file .demo/logs/mailsync-.log

The demo server is still running, so you can look around:
  IMAP 127.0.0.1:10143 (plain or STARTTLS), IMAPS 127.0.0.1:10993, POP3 127.0.0.1:10110,
  POP3S 127.0.0.1:10995 (self-signed: .demo/dovecot/tls/cert.pem); users ${users[*]},
  password of each in .demo/secrets/<user>. For example:
    openssl s_client -quiet -starttls imap -connect 127.0.0.1:10143
    a LOGIN demo-alice-new <the password in .demo/secrets/demo-alice-new>
    b LIST "" "*"
  or: doveadm -c .demo/dovecot/dovecot.conf mailbox status -u demo-alice-new "messages unseen" '*'

Stop it:        scripts/demo-dovecot.sh stop .demo/dovecot
Start over:     scripts/demo-dovecot.sh stop .demo/dovecot && rm -rf .demo samples.state.db
EOF
exit "$status"
