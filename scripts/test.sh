#!/usr/bin/env bash
# The one command that builds MailSync and runs every test.
# Last line: "N passed, N failed" (plus ", N skipped" when any were skipped),
# summed from the TRX <Counters> of all test projects. Exit status is non-zero
# when the build fails, any test fails, or no test ran at all.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
results="${MAILSYNC_TEST_RESULTS:-artifacts/test-results}"
rm -rf "$results"
mkdir -p "$results"

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1

# Warnings are already errors via Directory.Build.props; -warnaserror keeps that true
# even if someone loosens the props.
if ! dotnet build MailSync.sln -c Release -warnaserror; then
  echo "BUILD FAILED: no tests were run"
  exit 1
fi

dotnet test MailSync.sln -c Release --no-build \
  --logger "trx" --logger "console;verbosity=normal" \
  --results-directory "$results"
test_status=$?

mapfile -t trx_files < <(find "$results" -name '*.trx' -type f)
if [[ ${#trx_files[@]} -eq 0 ]]; then
  echo "NO TEST RESULTS: dotnet test exited with $test_status and wrote no TRX file"
  exit 1
fi

# Sums one attribute of <Counters .../> over all TRX files.
counter() {
  grep -ho '<Counters [^>]*' "${trx_files[@]}" \
    | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9][0-9]*' \
    | awk '{ s += $1 } END { print s + 0 }'
}

total=$(counter total)
passed=$(counter passed)
# A test that errored, timed out or was aborted did not pass either.
failed=$(( $(counter failed) + $(counter error) + $(counter timeout) + $(counter aborted) ))
# xunit's skipped tests are "NotExecuted" in TRX: counted in total, not in executed.
skipped=$(( total - $(counter executed) ))

summary="$passed passed, $failed failed"
if [[ $skipped -gt 0 ]]; then
  summary+=", $skipped skipped"
fi
echo "$summary"

if [[ $failed -gt 0 || $test_status -ne 0 || $((passed + failed)) -eq 0 ]]; then
  exit 1
fi
