using System.Diagnostics;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Net.Pop3;
using MailKit.Security;
using MailSync.Core.Checkpoints;
using MailSync.Core.Config;
using MailSync.Core.Mapping;
using MailSync.Core.Stores;
using MailSync.Core.Stores.Imap;
using MailSync.Core.Stores.Pop3;
using MailSync.Core.Resilience;
using MailSync.Core.Sync;
using Serilog;

namespace MailSync.Core.Jobs;

/// <summary>
/// Runs the selected jobs of a job file one after another against one ledger. A job's failure
/// (wrong password, unreachable server) ends that job only; an interruption ends the run.
/// </summary>
public sealed class JobRunner(ILogger log, IMigrationObserver observer)
{
    public async Task<IReadOnlyList<JobResult>> RunAsync(
        MailSyncConfig config, IReadOnlyList<JobConfig> jobs, string ledgerPath, MigrationOptions options, CancellationToken cancellationToken)
    {
        var results = new List<JobResult>();
        CheckpointLedger ledger;
        try
        {
            ledger = CheckpointLedger.Open(ledgerPath);
        }
        catch (LedgerException ex)
        {
            log.Error("{Error}", ex.Message);
            return jobs.Select(j => new JobResult { Job = j.Name, Status = JobStatus.LedgerFailed, Error = ex.Message, DryRun = options.DryRun, RetryFailed = options.RetryFailed }).ToList();
        }

        using (ledger)
        {
            foreach (var job in jobs)
            {
                var jobOptions = options with { JobsSharingTarget = JobsSharingTarget(config, job) };
                var result = await RunJobAsync(config, job, ledger, jobOptions, cancellationToken).ConfigureAwait(false);
                results.Add(result);
                if (result.Status == JobStatus.Interrupted)
                    break;
            }
        }

        return results;
    }

    private async Task<JobResult> RunJobAsync(MailSyncConfig config, JobConfig job, CheckpointLedger ledger, MigrationOptions options, CancellationToken cancellationToken)
    {
        var result = new JobResult { Job = job.Name, DryRun = options.DryRun, RetryFailed = options.RetryFailed };
        var clock = Stopwatch.StartNew();
        try
        {
            using var jobLock = JobLock.Acquire(ledger.Path, job.Name);
            var sourceAccount = config.Accounts[job.Source];
            var targetAccount = config.Accounts[job.Target];
            await using var target = new ImapStore(ToEndpoint(targetAccount));
            if (sourceAccount.Protocol == Protocol.Pop3)
            {
                await using var mailbox = new Pop3Mailbox(ToEndpoint(sourceAccount));
                log.Information("{Job}: connecting to {Target} and POP3 {Source}", job.Name, target.Endpoint, mailbox.Endpoint);
                // The target first: a POP3 session may lock the maildrop, so it is held no longer than needed.
                await target.ConnectAsync(cancellationToken).ConfigureAwait(false);
                await RetryPipelines.Login($"{job.Name}: POP3 {mailbox.Endpoint}", sourceAccount.RetryAttempts, TimeSpan.FromSeconds(sourceAccount.RetryDelaySeconds), log)
                    .ExecuteAsync(async ct => await mailbox.ConnectAsync(ct).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
                var settings = new Pop3JobSettings
                {
                    TargetFolder = job.TargetFolder,
                    TargetFlags = job.TargetFlags,
                    DeleteFromSource = job.DeleteFromSource,
                    DeleteOlderThanDays = job.DeleteOlderThanDays,
                };
                var engine = new Pop3MigrationEngine(job.Name, mailbox, target, ledger, options, settings, observer, log);
                await engine.RunAsync(result, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await using var source = new ImapStore(ToEndpoint(sourceAccount));
                log.Information("{Job}: connecting to {Source} and {Target}", job.Name, source.Endpoint, target.Endpoint);
                await source.ConnectAsync(cancellationToken).ConfigureAwait(false);
                await target.ConnectAsync(cancellationToken).ConfigureAwait(false);

                var mapping = new FolderMappingOptions(job.Include, job.Exclude, job.Renames, job.TargetPrefix);
                var engine = new MigrationEngine(job.Name, source, target, ledger, options, observer, log);
                await engine.RunAsync(mapping, result, cancellationToken).ConfigureAwait(false);
            }

            result.Status = result.Failures.Count > 0 ? JobStatus.CompletedWithFailures : JobStatus.Succeeded;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            result.Status = JobStatus.Interrupted;
            result.Error = "interrupted; run the same command again to continue where it stopped";
        }
        catch (LedgerException ex)
        {
            result.Status = JobStatus.LedgerFailed;
            result.Error = ex.Message;
        }
        catch (ServerBusyException ex)
        {
            result.Status = JobStatus.TemporarilyUnavailable;
            result.Error = $"{ex.Message}; nothing was lost, run again later";
        }
        catch (Exception ex) when (ex is StoreConnectException or ConfigException)
        {
            result.Status = JobStatus.AccountFailed;
            result.Error = ex.Message;
        }
        catch (Exception ex) when (ex is IOException or ImapProtocolException or ServiceNotConnectedException or ImapCommandException or FolderNotFoundException
            or Pop3ProtocolException or Pop3CommandException)
        {
            // Anything in flight stays pending in the ledger and is reconciled on the next run.
            result.Status = JobStatus.Failed;
            result.Error = $"stopped by a server or connection error: {ex.Message}; run again to continue";
        }

        if (result.Error is not null)
            log.Error("{Job}: {Error}", job.Name, result.Error);
        result.Duration = clock.Elapsed;
        return result;
    }

    /// <summary>Every job of the file (selected or not) whose target is the same mailbox account as this job's.</summary>
    private static List<string> JobsSharingTarget(MailSyncConfig config, JobConfig job)
    {
        var mine = config.Accounts[job.Target];
        return config.Jobs
            .Where(other => config.Accounts[other.Target] is var theirs
                && string.Equals(theirs.Host, mine.Host, StringComparison.OrdinalIgnoreCase)
                && theirs.Port == mine.Port
                && string.Equals(theirs.User, mine.User, StringComparison.Ordinal))
            .Select(other => other.Name)
            .ToList();
    }

    internal static MailEndpoint ToEndpoint(AccountConfig account) => new(
        account.Host,
        account.Port,
        account.Security switch
        {
            SecurityMode.Ssl => SecureSocketOptions.SslOnConnect,
            SecurityMode.StartTls => SecureSocketOptions.StartTls,
            _ => SecureSocketOptions.None,
        },
        account.User,
        // With an OAuth2 token configured the token is the secret, sent by XOAUTH2 only.
        account.OAuth2Token is { } token ? token.Resolve() : account.Password!.Resolve(),
        account.OAuth2Token is not null ? "XOAUTH2" : account.AuthMechanism,
        account.TrustAnyCertificate,
        account.CertificateFingerprint,
        TimeSpan.FromSeconds(account.TimeoutSeconds));
}
