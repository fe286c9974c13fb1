using MailSync.Core.Checkpoints;

namespace MailSync.Core.Sync;

/// <summary>
/// The pure part of <c>--retry-failed</c>, shared by both engines: which ledger rows a retry pass
/// attempts again, and which of them the source still has.
/// </summary>
internal static class RetrySelection
{
    /// <summary>
    /// An intent written by a retry pass that was interrupted before its outcome was recorded. A
    /// retried message's intent keeps its row's last error, while the intent of a message never
    /// tried has none: that is how the next retry pass still knows it as a failure to retry.
    /// </summary>
    public static bool IsInterruptedRetry(MessageRecord row) => row.State == MessageState.Pending && row.LastError is not null;

    /// <summary>Whether a pair has anything for a retry pass; one without is skipped unopened.</summary>
    public static bool HasWork(IEnumerable<MessageRecord> rows) => rows.Any(r => r.State == MessageState.Failed || IsInterruptedRetry(r));

    /// <summary>
    /// The rows to try again, in source UID order, each as a failed row: every failed row of
    /// <paramref name="rows"/>, the interrupted retries still pending there (a dry run does not
    /// reconcile), and those of <paramref name="inFlight"/> (taken before reconciliation) that
    /// reconciliation dropped because they never landed. Interrupted retries that did land are
    /// copied rows by now and are not tried again.
    /// </summary>
    public static List<MessageRecord> Candidates(IReadOnlyDictionary<uint, MessageRecord> rows, IEnumerable<MessageRecord> inFlight)
        => rows.Values.Where(r => r.State == MessageState.Failed || IsInterruptedRetry(r))
            .Concat(inFlight.Where(r => IsInterruptedRetry(r) && !rows.ContainsKey(r.SourceUid)))
            .Select(r => r with { State = MessageState.Failed, TargetUid = null })
            .OrderBy(r => r.SourceUid)
            .ToList();

    /// <summary>
    /// Pairs the candidates with the source's messages by key (IMAP UID, POP3 UIDL or
    /// fingerprint): returns the messages to retry, in the source's order, each with its row, and
    /// the rows whose message the source no longer has.
    /// </summary>
    public static (List<(T Message, MessageRecord Row)> Found, List<MessageRecord> Gone) Match<T, TKey>(
        IReadOnlyList<MessageRecord> candidates, IEnumerable<T> onSource, Func<T, TKey> sourceKey, Func<MessageRecord, TKey> rowKey)
        where TKey : notnull
    {
        // Keys are unique per pair (the ledger's primary key and source_key index), so one row per key.
        var wanted = new Dictionary<TKey, MessageRecord>();
        foreach (var row in candidates)
            wanted.TryAdd(rowKey(row), row);
        var found = new List<(T, MessageRecord)>();
        foreach (var message in onSource)
        {
            if (wanted.Remove(sourceKey(message), out var row))
                found.Add((message, row));
        }

        return (found, wanted.Values.OrderBy(r => r.SourceUid).ToList());
    }
}
