namespace MailSync.Bench;

/// <summary>How a mailbox differs from what it should be. All zero = "ok".</summary>
internal sealed record Correctness
{
    public int Missing { get; init; }
    public int Extra { get; init; }
    public int BytesDiffer { get; init; }
    public int FlagsDiffer { get; init; }
    public int KeywordsDiffer { get; init; }
    public int DatesDiffer { get; init; }
    public List<string> MissingFolders { get; init; } = [];
    public List<string> ExtraFolders { get; init; } = [];
    public List<string> Examples { get; init; } = [];

    /// <summary>The first pair counted as "bytes differ" (folder, expected UID, actual UID), to explain it.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public (string Folder, uint ExpectedUid, uint ActualUid)? FirstBytesPair { get; init; }

    /// <summary>What the first "bytes differ" pair differs in (header lines added or removed), if looked at.</summary>
    public string? BytesExplanation { get; set; }

    /// <summary>Set when the check itself could not be done (IMAP error while reading the mailbox).</summary>
    public string? Error { get; init; }

    public bool Ok => Error is null && Missing == 0 && Extra == 0 && BytesDiffer == 0 && FlagsDiffer == 0 && KeywordsDiffer == 0
                      && DatesDiffer == 0 && MissingFolders.Count == 0 && ExtraFolders.Count == 0;

    public string Summary()
    {
        if (Ok) return "ok";
        if (Error is not null) return "check failed: " + Error;
        var parts = new List<string>();
        if (Missing > 0) parts.Add($"missing {Missing}");
        if (Extra > 0) parts.Add($"extra {Extra}");
        if (BytesDiffer > 0) parts.Add($"bytes≠ {BytesDiffer}");
        if (FlagsDiffer > 0) parts.Add($"flags≠ {FlagsDiffer}");
        if (KeywordsDiffer > 0) parts.Add($"keywords≠ {KeywordsDiffer}");
        if (DatesDiffer > 0) parts.Add($"dates≠ {DatesDiffer}");
        if (MissingFolders.Count > 0) parts.Add($"folders missing {MissingFolders.Count}");
        if (ExtraFolders.Count > 0) parts.Add($"extra folders {ExtraFolders.Count}");
        return string.Join(", ", parts);
    }
}

internal static class Verify
{
    /// <summary>
    /// Compares <paramref name="actual"/> with <paramref name="expected"/> folder by folder (same
    /// name). Within a folder, messages are matched by the SHA-256 of their bytes as a multiset:
    /// copies beyond the expected number are "extra", expected ones not found are "missing". An
    /// unmatched expected message whose Message-ID is found among the unmatched actual ones counts
    /// once as "bytes differ" instead (and its flags, keywords and date are still compared). Matched pairs compare system flags (without \Recent), keywords
    /// (case-insensitive) and INTERNALDATE (the instant, to the second). An expected folder that is
    /// absent is "missing" (its messages too); an actual folder the expected state does not have
    /// counts as "extra" only when it holds messages.
    /// </summary>
    public static Correctness Compare(MailboxState expected, MailboxState actual)
    {
        int missing = 0, extra = 0, bytes = 0, flags = 0, keywords = 0, dates = 0;
        var missingFolders = new List<string>();
        var extraFolders = new List<string>();
        var examples = new List<string>();
        (string, uint, uint)? firstBytesPair = null;
        void Example(string s) { if (examples.Count < 8) examples.Add(s); }
        void ComparePair(string name, MessageState e, MessageState a)
        {
            if (a.Flags != e.Flags)
            {
                flags++;
                Example($"{name}: flags {e.Flags} → {a.Flags} ({e.MessageId})");
            }
            if (!a.Keywords.SequenceEqual(e.Keywords))
            {
                keywords++;
                Example($"{name}: keywords [{string.Join(' ', e.Keywords)}] → [{string.Join(' ', a.Keywords)}] ({e.MessageId})");
            }
            if (a.InternalDate.ToUnixTimeSeconds() != e.InternalDate.ToUnixTimeSeconds())
            {
                dates++;
                Example($"{name}: date {e.InternalDate:u} → {a.InternalDate:u} ({e.MessageId})");
            }
        }

        foreach (var (name, exp) in expected.Folders)
        {
            if (!actual.Folders.TryGetValue(name, out var act) || (exp.Selectable && !act.Selectable))
            {
                if (exp.Selectable)
                {
                    missingFolders.Add(name);
                    missing += exp.Messages.Count;
                    Example($"folder \"{name}\" missing ({exp.Messages.Count} messages)");
                }
                continue;
            }

            var actualByHash = act.Messages.GroupBy(m => m.Sha256).ToDictionary(g => g.Key, g => new Queue<MessageState>(g));
            var unmatchedExpected = new List<MessageState>();
            foreach (var e in exp.Messages)
            {
                if (actualByHash.TryGetValue(e.Sha256, out var q) && q.Count > 0)
                {
                    ComparePair(name, e, q.Dequeue());
                }
                else
                {
                    unmatchedExpected.Add(e);
                }
            }

            var unmatchedActual = actualByHash.Values.SelectMany(q => q).ToList();
            var actualById = unmatchedActual.Where(m => m.MessageId is not null)
                .GroupBy(m => m.MessageId!).ToDictionary(g => g.Key, g => new Queue<MessageState>(g));
            foreach (var e in unmatchedExpected)
            {
                if (e.MessageId is not null && actualById.TryGetValue(e.MessageId, out var q) && q.Count > 0)
                {
                    var a = q.Dequeue();
                    unmatchedActual.Remove(a);
                    bytes++;
                    firstBytesPair ??= (name, e.Uid, a.Uid);
                    Example($"{name}: bytes differ {e.Size} → {a.Size} B ({e.MessageId})");
                    // Same message by Message-ID: its flags, keywords and date still count.
                    ComparePair(name, e, a);
                }
                else
                {
                    missing++;
                    Example($"{name}: missing {e.MessageId} ({e.Size} B)");
                }
            }
            extra += unmatchedActual.Count;
            foreach (var a in unmatchedActual.Take(2)) Example($"{name}: extra {a.MessageId} (uid {a.Uid})");
        }

        foreach (var (name, act) in actual.Folders)
        {
            if (expected.Folders.ContainsKey(name) || act.Messages.Count == 0) continue;
            extraFolders.Add(name);
            extra += act.Messages.Count;
            Example($"unexpected folder \"{name}\" with {act.Messages.Count} messages");
        }

        return new Correctness
        {
            Missing = missing, Extra = extra, BytesDiffer = bytes, FlagsDiffer = flags, KeywordsDiffer = keywords,
            DatesDiffer = dates, MissingFolders = missingFolders, ExtraFolders = extraFolders, Examples = examples,
            FirstBytesPair = firstBytesPair,
        };
    }
}
