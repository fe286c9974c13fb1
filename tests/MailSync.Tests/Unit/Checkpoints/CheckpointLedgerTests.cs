using MailSync.Core.Checkpoints;
using Microsoft.Data.Sqlite;

namespace MailSync.Tests.Unit.Checkpoints;

public sealed class CheckpointLedgerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mailsync-ledger-").FullName;

    private string PathOf(string name) => Path.Combine(_dir, name);

    [Fact]
    public void Rows_and_cursors_survive_reopening()
    {
        var path = PathOf("a.db");
        using (var ledger = CheckpointLedger.Open(path))
        {
            var pair = ledger.GetOrCreatePair("job", "INBOX", "INBOX");
            pair.SourceUidValidity = 5;
            pair.SourceUidNext = 42;
            pair.CompletedUtc = DateTimeOffset.UtcNow;
            ledger.SavePair(pair);
            ledger.Save(pair.Id, [new MessageRecord(7, 3, MessageState.Copied, "id@x", 1000, 500, 510, "\\Seen", "\\Seen", 1, 1, null)]);
        }

        using (var again = CheckpointLedger.Open(path))
        {
            var pair = again.GetOrCreatePair("job", "INBOX", "INBOX");
            Assert.Equal(5u, pair.SourceUidValidity);
            Assert.Equal(42u, pair.SourceUidNext);
            Assert.NotNull(pair.CompletedUtc);
            var row = Assert.Single(again.LoadMessages(pair.Id)).Value;
            Assert.Equal((7u, 3u, MessageState.Copied, 510L), (row.SourceUid, row.TargetUid!.Value, row.State, row.TargetSize));
        }
    }

    [Fact]
    public void A_file_that_is_not_a_database_is_refused_and_left_untouched()
    {
        var path = PathOf("garbage.db");
        var garbage = "this is not sqlite, but it is somebody's file\n"u8.ToArray().Concat(new byte[5000]).ToArray();
        File.WriteAllBytes(path, garbage);
        var ex = Assert.Throws<LedgerException>(() => CheckpointLedger.Open(path));
        Assert.Contains(path, ex.Message);
        Assert.Equal(garbage, File.ReadAllBytes(path));
    }

    [Fact]
    public void A_newer_schema_is_refused()
    {
        var path = PathOf("newer.db");
        CheckpointLedger.Open(path).Dispose();
        using (var c = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "UPDATE meta SET value = '99' WHERE key = 'schema_version';";
            cmd.ExecuteNonQuery();
        }

        var ex = Assert.Throws<LedgerException>(() => CheckpointLedger.Open(path));
        Assert.Contains("newer", ex.Message);
    }

    [Fact]
    public void A_foreign_sqlite_database_is_refused()
    {
        var path = PathOf("foreign.db");
        using (var c = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "CREATE TABLE contacts (name TEXT);";
            cmd.ExecuteNonQuery();
        }

        var ex = Assert.Throws<LedgerException>(() => CheckpointLedger.Open(path));
        Assert.Contains("not a MailSync checkpoint ledger", ex.Message);
    }

    [Fact]
    public void A_job_lock_is_exclusive_until_released()
    {
        var path = PathOf("lock.db");
        using (JobLock.Acquire(path, "alice"))
        {
            var ex = Assert.Throws<LedgerException>(() => JobLock.Acquire(path, "alice"));
            Assert.Contains("already running", ex.Message);
            using var other = JobLock.Acquire(path, "bob");
        }

        using var again = JobLock.Acquire(path, "alice");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
