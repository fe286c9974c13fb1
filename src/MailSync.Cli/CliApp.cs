using System.CommandLine;

namespace MailSync.Cli;

/// <summary>The command line: verbs and options only; each verb's work lives in its own class.</summary>
internal static class CliApp
{
    public static async Task<int> RunAsync(string[] args)
    {
        var jobFile = new Argument<FileInfo>("JOBFILE") { Description = "The JSON job file (see docs/config.md)." };
        var job = new Option<string[]>("--job") { Description = "Run only this job (repeat for several); default: every job in the file.", AllowMultipleArgumentsPerToken = false };
        var state = new Option<FileInfo?>("--state") { Description = "Checkpoint ledger (SQLite). Default: JOBFILE's name with .state.db, beside it." };
        var report = new Option<FileInfo?>("--report") { Description = "Write a JSON report: per-folder counts and every message not copied, with its reason." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Connect, map folders and count what would be copied; change nothing." };
        var retryFailed = new Option<bool>("--retry-failed")
        {
            Description = "Try again only the messages earlier runs could not copy (recorded as failed in the ledger, with their reason). "
                + "Messages never tried are left for a normal run, and folders without failures are not opened. "
                + "Exit code 0 if every one is now copied, 3 if some still fail (each listed with its new reason).",
        };
        var allowDeletions = new Option<string[]>("--allow-deletions")
        {
            Description = "Sync jobs: confirm the deletions the mass-delete guard held in this folder (either side's name; repeat for several), "
                + "or in every folder with \"all\". Without it a folder emptied or deleted on one side, or losing more than 50 messages and 10 % "
                + "in one run, keeps its messages on the other side and the run exits with 10.",
            AllowMultipleArgumentsPerToken = false,
        };
        var logFile = new Option<FileInfo?>("--log-file") { Description = "Log file (rolls daily). Default: logs/mailsync-DATE.log beside JOBFILE." };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log debug details to the console too." };

        var run = new Command("run", "Run each job: \"migrate\" copies every folder, message, flag and date of the source into the target; "
            + "\"sync\" keeps the two accounts in step both ways (new mail, flags, moves, deletions, folders). "
            + "Safe to interrupt and re-run: it resumes, and copies nothing twice.")
        {
            jobFile, job, state, report, dryRun, retryFailed, allowDeletions, logFile, verbose,
        };
        run.SetAction((parse, cancellationToken) => new RunCommand(new RunArguments(
            parse.GetValue(jobFile)!,
            parse.GetValue(job) ?? [],
            parse.GetValue(state),
            parse.GetValue(report),
            parse.GetValue(dryRun),
            parse.GetValue(retryFailed),
            parse.GetValue(allowDeletions) ?? [],
            parse.GetValue(logFile),
            parse.GetValue(verbose))).ExecuteAsync(cancellationToken));

        var root = new RootCommand("""
            mailsync: migrate IMAP and POP3 mailboxes into IMAP, and keep two IMAP accounts in sync both ways,
            resumably and without duplicates.

            Exit codes: 0 everything copied (or synced); 2 configuration or usage error (job file, --job, secret);
            3 some messages were not copied (see the summary/report); 4 login refused (wrong password
            or token) or another account error; 5 checkpoint ledger unusable (damaged, newer, or the
            job is already running); 6 a server asked to come back later (mailbox in use, login delay)
            and retries ran out: run again later; 7 server unreachable (host name does not resolve,
            connection refused); 8 TLS certificate not trusted (pin it with certificateFingerprint);
            9 encryption configured but not offered (no STARTTLS): the password was not sent;
            10 a sync job held deletions back (mass-delete guard; everything else was synced): check, then
            confirm with --allow-deletions; 11 a server broke the protocol or a limit (an endless line, a flood of
            responses, more folders than maxFolders): what it did is named, and a re-run will not help;
            130 interrupted; 1 other error.
            When jobs end differently the most serious decides: 130 > 5 > 4 > 8 > 9 > 7 > 1 > 11 > 6 > 10 > 3 > 0.
            """)
        {
            run,
        };
        return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
    }
}
