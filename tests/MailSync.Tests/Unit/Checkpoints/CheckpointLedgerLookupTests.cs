using MailSync.Core.Checkpoints;
using Microsoft.Data.Sqlite;

namespace MailSync.Tests.Unit.Checkpoints;

/// <summary>
/// The two read-only lookups the engine uses to skip an unchanged folder without selecting it:
/// <see cref="CheckpointLedger.FindPair"/> and <see cref="CheckpointLedger.Tally"/>.
/// </summary>
public sealed class CheckpointLedgerLookupTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mailsync-ledger-lookup-").FullName;

    private string LedgerPath => Path.Combine(_dir, "state.db");

    [Fact]
    public void FindPair_returns_null_for_an_unknown_pair_and_writes_nothing()
    {
        using var ledger = CheckpointLedger.Open(LedgerPath);
        var known = ledger.GetOrCreatePair("job", "INBOX", "INBOX");
        var pairsBefore = CountRows("folder_pairs");

        Assert.Null(ledger.FindPair("job", "Archive", "Archive"));
        Assert.Null(ledger.FindPair("other-job", "INBOX", "INBOX"));
        Assert.Null(ledger.FindPair("job", "INBOX", "Elsewhere"));
        // Folder names are compared exactly.
        Assert.Null(ledger.FindPair("job", "inbox", "INBOX"));

        Assert.Equal(pairsBefore, CountRows("folder_pairs"));
        Assert.Equal(1, pairsBefore);
        Assert.Equal(known.Id, ledger.FindPair("job", "INBOX", "INBOX")?.Id);
    }

    [Fact]
    public void FindPair_returns_the_cursors_GetOrCreatePair_saved()
    {
        using var ledger = CheckpointLedger.Open(LedgerPath);
        var pair = ledger.GetOrCreatePair("job", "Lists/dev", "Lists.dev");
        pair.SourceUidValidity = 11;
        pair.TargetUidValidity = 22;
        pair.SourceUidNext = 33;
        pair.SourceHighestModSeq = 44;
        pair.TargetUidNext = 55;
        pair.CompletedUtc = new DateTimeOffset(2024, 5, 6, 7, 8, 9, TimeSpan.Zero);
        ledger.SavePair(pair);

        var found = ledger.FindPair("job", "Lists/dev", "Lists.dev");

        Assert.NotNull(found);
        Assert.Equal((pair.Id, 11u, 22u, 33u, 44ul, 55u), (found.Id, found.SourceUidValidity, found.TargetUidValidity, found.SourceUidNext, found.SourceHighestModSeq, found.TargetUidNext));
        Assert.Equal(pair.CompletedUtc, found.CompletedUtc);
    }

    [Fact]
    public void Tally_counts_copied_and_pending_rows_and_returns_the_failed_ones()
    {
        using var ledger = CheckpointLedger.Open(LedgerPath);
        var pair = ledger.GetOrCreatePair("job", "INBOX", "INBOX");
        var other = ledger.GetOrCreatePair("job", "Archive", "Archive");
        ledger.Save(pair.Id,
        [
            Row(1, MessageState.Copied), Row(2, MessageState.Copied), Row(3, MessageState.Copied),
            Row(4, MessageState.Pending), Row(5, MessageState.Pending),
            Row(6, MessageState.Failed) with { LastError = "Mail size is larger than the maximum size", Attempts = 2 },
            Row(7, MessageState.Failed) with { LastError = "the source would not return it" },
        ]);
        ledger.Save(other.Id, [Row(1, MessageState.Copied), Row(2, MessageState.Failed) with { LastError = "elsewhere" }]);

        var (copied, pending, failed) = ledger.Tally(pair.Id);

        Assert.Equal(3, copied);
        Assert.Equal(2, pending);
        Assert.Equal([6u, 7u], failed.Select(f => f.SourceUid).Order());
        var six = failed.Single(f => f.SourceUid == 6);
        Assert.Equal((MessageState.Failed, 2, "Mail size is larger than the maximum size", "<6@x>"), (six.State, six.Attempts, six.LastError, six.MessageId));
    }

    [Fact]
    public void Tally_of_a_pair_without_rows_is_zero()
    {
        using var ledger = CheckpointLedger.Open(LedgerPath);
        var pair = ledger.GetOrCreatePair("job", "INBOX", "INBOX");

        var (copied, pending, failed) = ledger.Tally(pair.Id);

        Assert.Equal((0, 0), (copied, pending));
        Assert.Empty(failed);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static MessageRecord Row(uint uid, MessageState state)
        => new(uid, state == MessageState.Copied ? uid + 100 : null, state, $"<{uid}@x>", 1_700_000_000, 1000, state == MessageState.Copied ? 1000 : 0, "\\Seen", "\\Seen", 1, 1, null);

    private long CountRows(string table)
    {
        using var connection = new SqliteConnection($"Data Source={LedgerPath};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var cmd = connection.CreateCommand();
        cmd.CommandText = $"SELECT count(*) FROM {table};";
        return (long)cmd.ExecuteScalar()!;
    }
}
