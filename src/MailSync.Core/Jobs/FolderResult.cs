namespace MailSync.Core.Jobs;

/// <summary>Counts for one folder pair in one run.</summary>
public sealed class FolderResult
{
    public required string SourceFolder { get; init; }
    public required string TargetFolder { get; init; }

    /// <summary>Messages in the source folder when it was opened.</summary>
    public int SourceMessages { get; set; }

    /// <summary>Copied by an earlier run (per the ledger).</summary>
    public int AlreadyCopied { get; set; }

    public int Copied { get; set; }
    public long CopiedBytes { get; set; }
    public int Failed { get; set; }

    /// <summary>Copied earlier, flags or keywords changed on the source since: the change was carried to the copy.</summary>
    public int FlagsUpdated { get; set; }

    /// <summary>Pending intents of an interrupted run found on the target and completed without a new APPEND.</summary>
    public int Reconciled { get; set; }

    /// <summary>
    /// Messages a target folder already held before this job first copied into it (same
    /// Message-ID, INTERNALDATE and size), paired with their source message instead of appended.
    /// </summary>
    public int FoundOnTarget { get; set; }

    /// <summary>UIDNEXT and HIGHESTMODSEQ unchanged since the last complete run: not even listed.</summary>
    public bool Unchanged { get; set; }

    /// <summary>POP3 only: how messages are known across runs, "UIDL" or "fingerprint" (the server has no UIDL).</summary>
    public string? SourceIdentity { get; set; }

    /// <summary>POP3 only: how many copies of this run got their INTERNALDATE from each rule (see ArrivalDateSource).</summary>
    public Dictionary<string, int> DateSources { get; } = new(StringComparer.Ordinal);

    /// <summary>POP3 only: the copies of this run whose date did not come from a Received: header, by message.</summary>
    public List<DatedMessage> DatedWithoutReceived { get; } = [];

    /// <summary>POP3 only: messages deleted from the server in this run (their copies were confirmed first).</summary>
    public int DeletedFromSource { get; set; }

    /// <summary>Why this folder was skipped (a folder-class failure: cannot create, select or write it), or null.</summary>
    public string? Error { get; set; }

    /// <summary>It was skipped because a server broke the protocol or a limit (<see cref="Error"/> says how): a re-run will not help.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public bool ProtocolViolation { get; set; }

    /// <summary>
    /// <c>--retry-failed</c> only: messages an earlier run could not copy that this run tried again.
    /// Those now copied count in <see cref="Copied"/>, those failing again in <see cref="Failed"/>.
    /// </summary>
    public int Retried { get; set; }

    /// <summary>
    /// <c>--retry-failed</c> only: messages recorded as failed that the source no longer has, so
    /// they could not be tried; each is also counted in <see cref="Failed"/> and its ledger row is kept.
    /// </summary>
    public int NoLongerOnSource { get; set; }

    /// <summary><c>--retry-failed</c> only: the ledger holds no failed message for this pair, so it was not even opened.</summary>
    public bool NothingToRetry { get; set; }

    /// <summary>Two-way sync only: what was done in each direction (SourceFolder is side A's name, TargetFolder side B's).</summary>
    public SyncCounts? Sync { get; set; }

    /// <summary>Keywords the target folder refused, by name, with how many messages lost each.</summary>
    public Dictionary<string, int> DroppedKeywords { get; } = new(StringComparer.Ordinal);

    /// <summary>Counts <paramref name="keywords"/> as left off <paramref name="messages"/> messages each (the target folder would not take them).</summary>
    public void NoteDroppedKeywords(IEnumerable<string> keywords, int messages = 1)
    {
        foreach (var keyword in keywords)
            DroppedKeywords[keyword] = DroppedKeywords.GetValueOrDefault(keyword) + messages;
    }
}
