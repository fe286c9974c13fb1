using MailSync.Core.Checkpoints;
using MailSync.Core.Sync;

namespace MailSync.Tests.Unit.Sync;

/// <summary>Which ledger rows a <c>--retry-failed</c> pass attempts again (RetrySelection), without a server.</summary>
public sealed class RetrySelectionTests
{
    private const string Refused = "refused by the target: Mail size is larger than the maximum size allowed by server configuration";

    [Fact]
    public void A_pair_has_work_only_with_a_failed_row_or_an_interrupted_retry()
    {
        Assert.False(RetrySelection.HasWork([]));
        Assert.False(RetrySelection.HasWork([Row(1, MessageState.Copied), Row(2, MessageState.Copied, error: Refused)]));
        // A pending intent without a reason belongs to a normal run: the next normal run resolves it.
        Assert.False(RetrySelection.HasWork([Row(1, MessageState.Copied), Row(2, MessageState.Pending)]));
        Assert.True(RetrySelection.HasWork([Row(1, MessageState.Copied), Row(2, MessageState.Failed, error: Refused)]));
        Assert.True(RetrySelection.HasWork([Row(1, MessageState.Copied), Row(2, MessageState.Pending, error: Refused)]));
    }

    [Fact]
    public void Candidates_are_the_failed_rows_and_the_interrupted_retries_that_never_landed_in_uid_order()
    {
        var interruptedLost = Row(4, MessageState.Pending, error: Refused, attempts: 1);
        var interruptedLanded = Row(6, MessageState.Pending, error: Refused, attempts: 1);
        var inFlight = new[] { interruptedLost, interruptedLanded, Row(8, MessageState.Pending) };
        // After reconciliation: 4 and 8 never landed (dropped), 6 did (now copied).
        var rows = ById(
            Row(1, MessageState.Copied),
            Row(9, MessageState.Failed, error: "contains NUL bytes", attempts: 1),
            Row(3, MessageState.Failed, error: Refused, attempts: 2),
            interruptedLanded with { State = MessageState.Copied, TargetUid = 60, Attempts = 2 });

        var candidates = RetrySelection.Candidates(rows, inFlight);

        Assert.Equal([3u, 4u, 9u], candidates.Select(c => c.SourceUid));
        Assert.All(candidates, c => Assert.Equal(MessageState.Failed, c.State));
        // Attempts and reason come along: the next attempt counts on from them.
        Assert.Equal([(2, Refused), (1, Refused), (1, "contains NUL bytes")], candidates.Select(c => (c.Attempts, c.LastError!)));
    }

    [Fact]
    public void In_a_dry_run_an_interrupted_retry_still_pending_is_a_candidate()
    {
        var rows = ById(Row(2, MessageState.Pending, error: Refused, attempts: 1), Row(5, MessageState.Pending), Row(7, MessageState.Failed, error: Refused));
        Assert.Equal([2u, 7u], RetrySelection.Candidates(rows, []).Select(c => c.SourceUid));
    }

    [Fact]
    public void Matching_by_uid_keeps_the_sources_order_and_names_the_rows_the_source_no_longer_has()
    {
        List<MessageRecord> candidates = [Row(3, MessageState.Failed, error: Refused), Row(5, MessageState.Failed, error: Refused), Row(9, MessageState.Failed, error: Refused)];
        uint[] onSource = [9, 3, 4];

        var (found, gone) = RetrySelection.Match(candidates, onSource, uid => uid, r => r.SourceUid);

        Assert.Equal([(9u, 9u), (3u, 3u)], found.Select(f => (f.Message, f.Row.SourceUid)));
        Assert.Equal([5u], gone.Select(g => g.SourceUid));
    }

    [Fact]
    public void Matching_a_POP3_listing_goes_by_UIDL_not_by_MailSyncs_own_number()
    {
        List<MessageRecord> candidates =
        [
            Row(1, MessageState.Failed, error: Refused) with { SourceKey = "uidl-a" },
            Row(2, MessageState.Failed, error: Refused) with { SourceKey = "fp:0123#2" },
        ];
        string[] listing = ["uidl-z", "fp:0123#2", "uidl-b"];

        var (found, gone) = RetrySelection.Match(candidates, listing, key => key, r => r.SourceKey ?? string.Empty);

        Assert.Equal([("fp:0123#2", 2u)], found.Select(f => (f.Message, f.Row.SourceUid)));
        Assert.Equal(["uidl-a"], gone.Select(g => g.SourceKey!));
    }

    private static MessageRecord Row(uint uid, MessageState state, string? error = null, int attempts = 0)
        => new(uid, state == MessageState.Copied ? uid + 100 : null, state, $"m{uid}@x", 1_600_000_000, 100_000, 100_002, string.Empty, string.Empty, 1, attempts, error);

    private static Dictionary<uint, MessageRecord> ById(params MessageRecord[] rows) => rows.ToDictionary(r => r.SourceUid);
}
