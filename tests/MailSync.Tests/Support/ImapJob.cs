using MailSync.Core.Jobs;
using MailSync.Core.Sync;
using MailSync.Tests.Infrastructure;

namespace MailSync.Tests.Support;

/// <summary>
/// An IMAP-to-IMAP job file on any two ports (a Dovecot's or an <see cref="ImapFaultProxy"/>'s in
/// front of one), with extra account settings, and an in-process run of it.
/// </summary>
public static class ImapJob
{
    /// <param name="sourceExtras">JSON members added to the source account, each starting with a comma.</param>
    /// <param name="targetExtras">JSON members added to the target account; the source's when null.</param>
    /// <param name="mode">The job's mode: "migrate", or "sync" (source is side A, target side B).</param>
    public static JobFile Create(int sourcePort, TestUser source, int targetPort, TestUser target, string sourceExtras = "", string? targetExtras = null, string mode = "migrate")
        => JobFile.Write(source, target, $$"""
            {
              "accounts": {
                "src": { "protocol": "imap", "host": "127.0.0.1", "port": {{sourcePort}}, "security": "none", "user": "{{source.Name}}", "password": "file:src.secret"{{sourceExtras}} },
                "dst": { "protocol": "imap", "host": "127.0.0.1", "port": {{targetPort}}, "security": "none", "user": "{{target.Name}}", "password": "file:dst.secret"{{targetExtras ?? sourceExtras}} }
              },
              "jobs": [ { "name": "test", "mode": "{{mode}}", "source": "src", "target": "dst" } ]
            }
            """);

    /// <summary>Runs the file's only job through <see cref="JobRunner"/> and returns its result.</summary>
    public static async Task<JobResult> RunAsync(
        JobFile job, CapturedLog? log = null, MigrationOptions? options = null, IMigrationObserver? observer = null, CancellationToken cancellationToken = default)
    {
        var config = job.Load();
        var runner = new JobRunner(log?.Logger ?? Serilog.Core.Logger.None, observer ?? NullMigrationObserver.Instance);
        return Assert.Single(await runner.RunAsync(config, config.Jobs, job.StatePath, options ?? new MigrationOptions(), cancellationToken));
    }
}
