#!/usr/bin/env bash
# MailSync benchmark: MailSync vs mbsync (isync) vs interimap against a private Dovecot.
#
#   bench/run.sh                 # full run: 10,000 messages, 3 runs, memory case, no-op scale series
#   bench/run.sh --quick         # smoke test: 1,000 messages, 1 run, small memory case, no scale series
#   bench/run.sh --messages 2000 --runs 5 --only mailsync,mbsync --no-scale --keep
#   bench/run.sh --baseline main~3 --no-scale   # also measure the build of an earlier commit, same run
#   bench/run.sh --help          # every option
#
# Installs what is missing (dovecot-imapd, dovecot-pop3d, isync, interimap, time) with apt-get,
# publishes src/MailSync.Cli (Release) to artifacts/bench/mailsync, builds bench/MailSync.Bench,
# and runs it. The report is printed and written to bench/results/<time>.md (or --out FILE).
# Must run as root: Dovecot switches its mail processes to 'nobody'.
# Everything lives in one directory under /dev/shm (a tmpfs) or the temp dir; it and the
# benchmark's Dovecot are removed at exit, also on Ctrl+C (--keep keeps the directory).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

die() { echo "bench/run.sh: $*" >&2; exit 1; }

args=()
keep=0 out="" help=0 tools="mailsync,mailsync-sync,mbsync,interimap" baseline=""
for ((i = 1; i <= $#; i++)); do
  if [[ ${!i} == --baseline ]]; then
    j=$((i + 1)); baseline="${!j:-}"; i=$j
    [[ -n $baseline ]] || die "--baseline needs a git revision"
  else
    args+=("${!i}")
  fi
done
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --keep) keep=1 ;;
    --out) out="${args[i+1]:-}" ;;
    --only) tools="${args[i+1]:-}" ;;
    -h|--help) help=1 ;;
  esac
done

if [[ $help -eq 1 ]]; then
  sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  echo
fi

[[ $(id -u) -eq 0 || $help -eq 1 ]] || die "must run as root (Dovecot drops mail processes to 'nobody')"
command -v dotnet >/dev/null || die "the .NET 10 SDK (dotnet) is not on PATH"

# --- packages ---------------------------------------------------------------------------
need=()
[[ -x /usr/sbin/dovecot ]] || command -v dovecot >/dev/null || need+=(dovecot-imapd dovecot-pop3d)
[[ -x /usr/lib/dovecot/imap ]] || need+=(dovecot-imapd)
[[ -x /usr/bin/time ]] || need+=(time)
[[ $tools != *mbsync* ]] || command -v mbsync >/dev/null || need+=(isync)
[[ $tools != *interimap* ]] || command -v interimap >/dev/null || need+=(interimap)
if [[ ${#need[@]} -gt 0 && $help -eq 0 ]]; then
  echo "bench/run.sh: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Installing dovecot-core would start the system service on 143/993/110/995; forbid
  # service starts for this install (as .ci/run does), unless the machine has its own policy.
  policy=/usr/sbin/policy-rc.d own_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# Temporary, from MailSync bench/run.sh: no service starts during apt-get install.\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
  fi
  apt-get update -qq || true
  apt-get install -y -qq "${need[@]}" </dev/null || { [[ $own_policy -eq 1 ]] && rm -f "$policy"; die "apt-get install ${need[*]} failed"; }
  [[ $own_policy -eq 1 ]] && rm -f "$policy"
fi

# --- build ------------------------------------------------------------------------------
bin="$repo/artifacts/bench"
bench_dll="$repo/bench/MailSync.Bench/bin/Release/net10.0/mailsync-bench.dll"
if [[ $help -eq 0 ]]; then
  echo "bench/run.sh: publishing src/MailSync.Cli (Release) to $bin/mailsync" >&2
  # Published the way the README's install step does: self-contained, ReadyToRun composite, so
  # start-up is precompiled (the peers are native or Perl and start in a few milliseconds).
  case "$(uname -m)" in aarch64|arm64) rid=linux-arm64 ;; *) rid=linux-x64 ;; esac
  rm -rf "$bin/mailsync"
  # Publishing for a runtime shares obj/…/$rid with any other publish for it (framework-dependent,
  # not composite); a stale intermediate there yields a binary that aborts at start.
  rm -rf "$repo"/src/*/obj/Release/net10.0/"$rid" "$repo"/src/*/bin/Release/net10.0/"$rid"
  dotnet publish src/MailSync.Cli -c Release -r "$rid" --self-contained true -p:PublishReadyToRunComposite=true \
    -o "$bin/mailsync" -v quiet -nologo >&2 \
    || die "dotnet publish src/MailSync.Cli failed"
  if [[ -n $baseline ]]; then
    # The earlier build, published the same way from a worktree of that commit, is measured in
    # the same run: its ratio column is the before/after comparison on the same machine load.
    rev="$(git rev-parse --verify "$baseline^{commit}")" || die "--baseline: no such revision: $baseline"
    tree="$(mktemp -d "${TMPDIR:-/tmp}/mailsync-baseline.XXXXXX")"
    git worktree add --detach "$tree" "$rev" >&2 || die "git worktree add $rev failed"
    rm -rf "$bin/mailsync-baseline"
    dotnet publish "$tree/src/MailSync.Cli" -c Release -r "$rid" --self-contained true -p:PublishReadyToRunComposite=true \
      -o "$bin/mailsync-baseline" -v quiet -nologo >&2 || { git worktree remove --force "$tree"; die "publishing the baseline $baseline failed"; }
    git worktree remove --force "$tree"
    args+=(--baseline "$bin/mailsync-baseline/mailsync")
    echo "bench/run.sh: baseline $baseline ($rev) published to $bin/mailsync-baseline" >&2
  fi
fi
echo "bench/run.sh: building bench/MailSync.Bench (Release)" >&2
dotnet build bench/MailSync.Bench -c Release -v quiet -nologo >&2 || die "dotnet build bench/MailSync.Bench failed"
if [[ $help -eq 1 ]]; then
  exec dotnet "$bench_dll" --help
fi

# --- run --------------------------------------------------------------------------------
if [[ -d /dev/shm && -w /dev/shm ]]; then base=/dev/shm; else base="${TMPDIR:-/tmp}"; fi
workdir="$(mktemp -d "$base/mailsync-bench.XXXXXX")"
chmod 755 "$workdir"   # Dovecot's unprivileged processes must reach into it
if [[ -z $out ]]; then
  mkdir -p "$repo/bench/results"
  out="$repo/bench/results/$(date +%Y%m%d-%H%M%S).md"
  args+=(--out "$out")
fi

# The benchmark stops its own Dovecot and removes the work dir; this is the safety net for
# when it could not (killed, crashed): stop the Dovecot whose PID it recorded, if that PID
# still is a dovecot, and remove the directory.
cleanup() {
  local pidfile="$workdir/dovecot/dovecot.pid" pid
  if [[ -f $pidfile ]]; then
    pid="$(<"$pidfile")"
    if [[ $pid =~ ^[0-9]+$ && "$(cat "/proc/$pid/comm" 2>/dev/null)" == dovecot ]]; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do [[ -d /proc/$pid ]] || break; sleep 0.1; done
    fi
  fi
  if [[ $keep -eq 0 ]]; then rm -rf "$workdir"; else echo "bench/run.sh: kept $workdir" >&2; fi
}
trap cleanup EXIT
# Ctrl+C reaches the benchmark too (same process group); it cleans up and exits 130.
trap 'exit 130' INT TERM

started=$(date +%s)
status=0
dotnet "$bench_dll" --mailsync "$bin/mailsync/mailsync" --workdir "$workdir" "${args[@]}" || status=$?
echo "bench/run.sh: finished in $(( $(date +%s) - started )) s (exit $status); report: $out" >&2
exit "$status"
