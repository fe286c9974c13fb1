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
using MailSync.Core.Sync.TwoWay;
using Serilog;

namespace MailSync.Core.Jobs;

/// <summary>
/// Runs the selected jobs of a job file one after another against one ledger. A job's failure
/// (wrong password, unreachable server) ends that job only; an interruption ends the run.
/// </summary>
public sealed class JobRunner(ILogger log, IMigrationObserver observer, CircuitSettings? circuitSettings = null)
{
    private readonly ServerCircuits _circuits = new(log, circuitSettings);
    private readonly Dictionary<string, AccountPipelines> _pipelines = new(StringComparer.Ordinal);

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
            var sourcePipelines = PipelinesFor(job.Source, sourceAccount);
            var targetPipelines = PipelinesFor(job.Target, targetAccount);
            await using var target = new ImapStore(ToEndpoint(targetAccount)) { SpoolToDiskAbove = options.SpoolToDiskAbove };
            if (sourceAccount.Protocol == Protocol.Pop3)
            {
                await using var mailbox = new Pop3Mailbox(ToEndpoint(sourceAccount));
                log.Information("{Job}: connecting to {Target} and POP3 {Source}", job.Name, target.Endpoint, mailbox.Endpoint);
                // The target first: a POP3 session may lock the maildrop, so it is held no longer than needed.
                await ConnectAsync($"{job.Name}: target", targetPipelines, target.ConnectAsync, result, cancellationToken).ConfigureAwait(false);
                await ConnectAsync($"{job.Name}: POP3 source", sourcePipelines, mailbox.ConnectAsync, result, cancellationToken).ConfigureAwait(false);
                var settings = new Pop3JobSettings
                {
                    TargetFolder = job.TargetFolder,
                    TargetFlags = job.TargetFlags,
                    DeleteFromSource = job.DeleteFromSource,
                    DeleteOlderThanDays = job.DeleteOlderThanDays,
                };
                var engine = new Pop3MigrationEngine(job.Name, mailbox, target, ledger, options, settings, result, sourcePipelines, targetPipelines, observer, log);
                await engine.RunAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                // One engine for both modes: migrate is the two-way engine writing side B only
                // (SyncPolicy.Migrate), two-way sync writes both under the job's deletion policy.
                var sync = job.Mode == JobMode.Sync;
                var (labelA, labelB) = sync ? ("side A", "side B") : ("source", "target");
                await using var sideA = new ImapStore(ToEndpoint(sourceAccount)) { SpoolToDiskAbove = options.SpoolToDiskAbove };
                if (sync)
                    log.Information("{Job}: two-way sync of {A} (side A) and {B} (side B)", job.Name, sideA.Endpoint, target.Endpoint);
                else
                    log.Information("{Job}: connecting to {Source} and {Target}", job.Name, sideA.Endpoint, target.Endpoint);
                // Both at once: a run with nothing to do is mostly these two logins.
                await Task.WhenAll(
                    ConnectAsync($"{job.Name}: {labelA}", sourcePipelines, sideA.ConnectAsync, result, cancellationToken),
                    ConnectAsync($"{job.Name}: {labelB}", targetPipelines, target.ConnectAsync, result, cancellationToken)).ConfigureAwait(false);
                var policy = sync
                    ? new SyncPolicy { Deletions = job.Deletions, Guard = job.DeletionGuard, AllowDeletions = options.AllowDeletions }
                    : SyncPolicy.Migrate;
                var mapping = new FolderMappingOptions(job.Include, job.Exclude, job.Renames, job.TargetPrefix);
                await new SyncEngine(job.Name, sideA, target, ledger, options, policy, result, sourcePipelines, targetPipelines, observer, log)
                {
                    // Migrate works on several connection pairs at once; two-way plans every pair before acting, on one.
                    MaxConnectionPairs = policy.OneWay ? Math.Min(sourceAccount.MaxConnections, targetAccount.MaxConnections) : 1,
                    OpenConnectionPairAsync = policy.OneWay ? ct => OpenConnectionPairAsync(sourceAccount, targetAccount, options, ct) : null,
                }.RunAsync(mapping, cancellationToken).ConfigureAwait(false);
            }

            result.Status = result.Folders.Any(f => f.ProtocolViolation) ? JobStatus.ProtocolViolation
                : result.Folders.Any(f => f.Sync?.HeldReason is not null) ? JobStatus.DeletionsHeld
                : result.Failures.Count > 0 || result.Folders.Any(f => f.Error is not null) ? JobStatus.CompletedWithFailures
                : JobStatus.Succeeded;
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
        catch (StoreFailureException ex) when (ex.Classification.ProtocolViolation)
        {
            // Listing the account, or logging in: nothing of the account can be done; a re-run meets the same answer.
            result.Status = JobStatus.ProtocolViolation;
            result.Error = $"{ex.Message}; this job stopped, the other jobs went on; running again will not help until the server is fixed or the limit raised";
        }
        catch (StoreFailureException ex) when (ex.Kind == FailureKind.Transient)
        {
            // Retries spent, or the server asked for a longer wait than we keep a job waiting
            // (Gmail's bandwidth limit): the account is parked; the ledger has every intent.
            result.Status = JobStatus.TemporarilyUnavailable;
            var wait = ex.Classification.SuggestedDelay is { } delay && delay > RetryPipelines.MaxDelay
                ? $"; the server asked to wait {delay.TotalMinutes:0} min, so run again after {DateTimeOffset.Now + delay:HH:mm}"
                : string.Empty;
            result.Error = $"{ex.Message}{wait}; nothing was lost, run again later to continue";
        }
        catch (StoreFailureException ex) when (ex.Kind == FailureKind.Account)
        {
            // Wrong password, storage quota full, an unexpected error: this account stops, the others go on.
            result.Status = JobStatus.AccountFailed;
            result.Error = $"{ex.Message}; this job stopped, the other jobs went on; anything in flight is reconciled by the next run";
        }
        catch (StoreFailureException ex)
        {
            // A folder or message failure where the job has nothing else to do (a POP3 job's one target folder).
            result.Status = JobStatus.Failed;
            result.Error = ex.Message;
        }
        catch (ServerBusyException ex)
        {
            result.Status = JobStatus.TemporarilyUnavailable;
            result.Error = $"{ex.Message}; nothing was lost, run again later";
        }
        catch (Exception ex) when (ex is StoreConnectException or ConfigException)
        {
            // Each cause needs a different fix, so each has its own status and exit code.
            result.Status = (ex as StoreConnectException)?.Failure switch
            {
                StoreConnectFailure.Unreachable => JobStatus.ServerUnreachable,
                StoreConnectFailure.Certificate => JobStatus.CertificateRejected,
                StoreConnectFailure.NotEncrypted => JobStatus.EncryptionUnavailable,
                _ => JobStatus.AccountFailed,
            };
            result.Error = ex.Message;
        }
        catch (Exception ex) when (FailureClassifier.IsProtocolViolation(ex))
        {
            // Met outside any folder's work (while connecting, or in MailKit's own commands): the job stops.
            result.Status = JobStatus.ProtocolViolation;
            result.Error = $"protocol violation: {ex.Message}; this job stopped, the other jobs went on; running again will not help until the server is fixed or the limit raised";
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

    /// <summary>
    /// One more source and target connection for another worker of a job. One attempt each: the
    /// job already holds working connections, so a refusal here (a per-user connection limit)
    /// only means fewer workers.
    /// </summary>
    private static async Task<(ISyncSide, ISyncSide)> OpenConnectionPairAsync(
        AccountConfig sourceAccount, AccountConfig targetAccount, MigrationOptions options, CancellationToken cancellationToken)
    {
        var source = new ImapStore(ToEndpoint(sourceAccount)) { SpoolToDiskAbove = options.SpoolToDiskAbove };
        var target = new ImapStore(ToEndpoint(targetAccount)) { SpoolToDiskAbove = options.SpoolToDiskAbove };
        try
        {
            await Task.WhenAll(source.ConnectAsync(cancellationToken), target.ConnectAsync(cancellationToken)).ConfigureAwait(false);
            return (source, target);
        }
        catch
        {
            await source.DisposeAsync().ConfigureAwait(false);
            await target.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>An account's pipelines, built once per run and shared by all its jobs.</summary>
    private AccountPipelines PipelinesFor(string name, AccountConfig account)
    {
        if (!_pipelines.TryGetValue(name, out var pipelines))
        {
            pipelines = new AccountPipelines(name, account.RetryAttempts, TimeSpan.FromSeconds(account.RetryDelaySeconds), _circuits.For(account.Host, account.Port), log);
            _pipelines[name] = pipelines;
        }

        return pipelines;
    }

    /// <summary>
    /// First connection of a job: the connect pipeline around the server's circuit breaker, through
    /// the same <see cref="StoreRetry"/> that reconnects mid-run, so giving up is decided in one place.
    /// </summary>
    private async Task ConnectAsync(
        string what, AccountPipelines pipelines, Func<CancellationToken, Task> connect, JobResult result, CancellationToken cancellationToken)
    {
        var connected = false;
        var retry = new StoreRetry(what, () => connected, async ct =>
        {
            await connect(ct).ConfigureAwait(false);
            connected = true;
        }, pipelines.Circuit, result, log);
        try
        {
            await retry.RunAsync(pipelines.Connect, "connect", _ => Task.CompletedTask, cancellationToken).ConfigureAwait(false);
        }
        catch (StoreFailureException ex) when (ex.Kind == FailureKind.Transient && FindConnectFailure(ex) is { } cannot)
        {
            // Still unreachable after every attempt: report it as what it is (exit 7), not as "later".
            throw new StoreConnectException($"{cannot.Message} (tried {pipelines.Account} with all its retries)", cannot.Failure, cannot.InnerException);
        }
    }

    private static StoreConnectException? FindConnectFailure(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is StoreConnectException cannot)
                return cannot;
        }

        return null;
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
        TimeSpan.FromSeconds(account.TimeoutSeconds),
        account.Limits);
}
