using MailSync.Core.Checkpoints;
using MailSync.Core.Jobs;
using MailSync.Core.Mapping;
using MailSync.Core.Resilience;
using MailSync.Core.Sync;
using MailSync.Core.Sync.TwoWay;

namespace MailSync.Engine.Tests;

/// <summary>Runs the engine between two in-memory servers, as one process run would: a migrate job (the one-way policy) or a two-way sync.</summary>
internal static class EngineRun
{
    /// <summary>One migrate run (<see cref="SyncPolicy.Migrate"/>) with the ledger at <paramref name="ledgerPath"/> opened afresh (as a new process would); returns its result.</summary>
    public static Task<JobResult> RunAsync(
        InMemoryServer sourceServer, InMemoryServer targetServer, string ledgerPath, MigrationOptions? options = null, FolderMappingOptions? mapping = null)
        => SyncAsync(sourceServer, targetServer, ledgerPath, SyncPolicy.Migrate, options, mapping);

    /// <summary>One two-way sync run between two in-memory servers (A, B) with the ledger at <paramref name="ledgerPath"/> opened afresh.</summary>
    public static async Task<JobResult> SyncAsync(
        InMemoryServer a, InMemoryServer b, string ledgerPath, SyncPolicy? policy = null, MigrationOptions? options = null, FolderMappingOptions? mapping = null)
    {
        var log = Serilog.Core.Logger.None;
        using var ledger = CheckpointLedger.Open(ledgerPath);
        var pipelines = new AccountPipelines("memory", 0, TimeSpan.Zero, new ServerCircuits(log).For("memory", 1), log);
        await using var sideA = new InMemoryStore(a);
        await using var sideB = new InMemoryStore(b);
        await sideA.ConnectAsync(CancellationToken.None);
        await sideB.ConnectAsync(CancellationToken.None);
        var result = new JobResult { Job = "job" };
        await new SyncEngine("job", sideA, sideB, ledger, options ?? new MigrationOptions(), policy ?? new SyncPolicy(), result, pipelines, pipelines, NullMigrationObserver.Instance, log)
            .RunAsync(mapping ?? FolderMappingOptions.Default, CancellationToken.None);
        return result;
    }

    /// <summary>A ledger path in the temp folder, deleted (with its WAL files) when disposed.</summary>
    public sealed class TempLedger : IDisposable
    {
        // On tmpfs where there is one: every ledger write is an fsync, and these tests make thousands.
        public string Path { get; } = System.IO.Path.Combine(Directory.Exists("/dev/shm") ? "/dev/shm" : System.IO.Path.GetTempPath(), $"mailsync-engine-{Guid.NewGuid():N}.db");

        public void Dispose()
        {
            foreach (var file in new[] { Path, Path + "-wal", Path + "-shm" })
                File.Delete(file);
        }
    }
}
