using MailSync.Core.Model;

namespace MailSync.Core.Sync;

/// <summary>
/// Pairs messages by content when UIDs cannot say (after a crash during APPEND, or a UIDVALIDITY
/// change): same INTERNALDATE to the second and same size, and the same Message-ID where both
/// sides have one. Pure and one-to-one: two identical messages pair with two distinct candidates,
/// in UID order, so duplicates in the source stay duplicates and nothing is paired twice.
/// </summary>
public static class ContentMatcher
{
    public static IReadOnlyList<(TWanted Wanted, MessageInfo Match)> Match<TWanted>(
        IEnumerable<TWanted> wanted,
        Func<TWanted, ContentKey> keyOf,
        IEnumerable<MessageInfo> candidates,
        Func<MessageInfo, long> candidateSize)
    {
        var byDateAndSize = candidates
            .OrderBy(c => c.Uid)
            .GroupBy(c => (c.InternalDate.ToUnixTimeSeconds(), candidateSize(c)))
            .ToDictionary(g => g.Key, g => g.ToList());

        var result = new List<(TWanted, MessageInfo)>();
        foreach (var item in wanted)
        {
            var key = keyOf(item);
            if (!byDateAndSize.TryGetValue((key.InternalDateUnix, key.Size), out var list))
                continue;
            var index = list.FindIndex(c => IdsAgree(key.MessageId, c.MessageId));
            if (index < 0)
                continue;
            result.Add((item, list[index]));
            list.RemoveAt(index);
        }

        return result;
    }

    // Servers derive the envelope's Message-ID differently for broken headers; only a clear
    // disagreement (both present, different) rules a pair out.
    private static bool IdsAgree(string wanted, string? candidate)
        => wanted.Length == 0 || string.IsNullOrEmpty(candidate) || string.Equals(wanted, candidate, StringComparison.Ordinal);
}
