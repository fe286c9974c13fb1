using MailKit;
using MailSync.Core.Checkpoints;
using MailSync.Core.Model;

namespace MailSync.Core.Sync;

/// <summary>
/// What one migrate pass does in one folder pair, decided from what the source listed and what
/// the ledger holds, without touching a server: which messages to copy, which copies' flags to
/// change, and what to report. Pure, so every rule is a table row (MessagePlannerTests); the
/// copier fetches, asks this, then acts. The first step of the planner the two-way engine needs.
/// </summary>
public static class MessagePlanner
{
    /// <summary>The pass's work and report.</summary>
    /// <param name="ToCopy">Listed messages no ledger row knows, in listing order.</param>
    /// <param name="FlagChanges">Copied messages whose source flags differ from the last synced ones, with the flags now.</param>
    /// <param name="AlreadyCopied">Rows recorded as copied.</param>
    /// <param name="EarlierFailures">Rows recorded as failed: reported again, not retried (that is --retry-failed).</param>
    public sealed record Plan(
        IReadOnlyList<MessageInfo> ToCopy,
        IReadOnlyList<(MessageRecord Row, string Now)> FlagChanges,
        int AlreadyCopied,
        IReadOnlyList<MessageRecord> EarlierFailures);

    /// <param name="records">The ledger's rows for the pair, by source UID.</param>
    /// <param name="listed">The source's summaries: every message on a first pass, the new UIDs only after a complete one.</param>
    /// <param name="flags">
    /// After a complete pass, the flags the source reports for known messages (changed since the
    /// last HIGHESTMODSEQ, or all of them without CONDSTORE); null on a first pass, where the
    /// listed summaries carry the flags.
    /// </param>
    public static Plan Make(IReadOnlyDictionary<uint, MessageRecord> records, IReadOnlyList<MessageInfo> listed, IReadOnlyList<FlagState>? flags)
    {
        var toCopy = new List<MessageInfo>();
        var flagChanges = new List<(MessageRecord Row, string Now)>();
        foreach (var summary in listed)
        {
            if (!records.TryGetValue(summary.Uid, out var record))
                toCopy.Add(summary);
            else if (flags is null)
                NoteFlags(record, summary.Flags, summary.Keywords, flagChanges);
        }

        foreach (var state in flags ?? [])
        {
            if (records.TryGetValue(state.Uid, out var record))
                NoteFlags(record, state.Flags, state.Keywords, flagChanges);
        }

        return new Plan(
            toCopy,
            flagChanges,
            records.Values.Count(r => r.State == MessageState.Copied),
            [.. records.Values.Where(r => r.State == MessageState.Failed)]);
    }

    /// <summary>A copied row whose source flags now differ from the last synced ones is a change to carry.</summary>
    private static void NoteFlags(MessageRecord record, MessageFlags flags, IEnumerable<string> keywords, List<(MessageRecord Row, string Now)> flagChanges)
    {
        if (record.State != MessageState.Copied || record.TargetUid is null)
            return;
        var now = FlagText.Format(flags & FlagText.Settable, keywords);
        if (!string.Equals(now, record.SourceFlags, StringComparison.Ordinal))
            flagChanges.Add((record, now));
    }
}
