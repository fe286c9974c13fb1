using MailSync.Core.Model;

namespace MailSync.Core.Sync;

/// <summary>
/// Flag arithmetic on the ledger's flag texts (<see cref="FlagText"/>). Pure, table-tested
/// (FlagMergeTests). Today one-way: the source's change since the last sync is applied as a delta,
/// so what was set on the target meanwhile stays; the two-way engine adds the 3-way merge here.
/// </summary>
public static class FlagMerge
{
    /// <summary>A delta for the target, the flags the target then has, and the keywords it would not take.</summary>
    public sealed record OneWayResult(FlagChange Change, string TargetNow, IReadOnlyList<string> DroppedKeywords);

    /// <summary>
    /// The source went from <paramref name="sourceBefore"/> (last synced) to <paramref name="sourceNow"/>;
    /// the target had <paramref name="targetBefore"/>. Added keywords go through
    /// <paramref name="keywordFilter"/> (what the target folder takes); removals always go.
    /// </summary>
    public static OneWayResult OneWay(
        string sourceBefore, string sourceNow, string targetBefore,
        Func<IEnumerable<string>, (List<string> Send, List<string> Dropped)> keywordFilter)
    {
        var (beforeFlags, beforeKeywords) = FlagText.Parse(sourceBefore);
        var (nowFlags, nowKeywords) = FlagText.Parse(sourceNow);
        var (addKeywords, dropped) = keywordFilter(nowKeywords.Except(beforeKeywords, StringComparer.Ordinal));
        var change = new FlagChange(nowFlags & ~beforeFlags, addKeywords, beforeFlags & ~nowFlags, [.. beforeKeywords.Except(nowKeywords, StringComparer.Ordinal)]);
        var (targetFlags, targetKeywords) = FlagText.Parse(targetBefore);
        var targetNow = FlagText.Format(
            (targetFlags | change.Add) & ~change.Remove,
            targetKeywords.Union(change.AddKeywords, StringComparer.Ordinal).Except(change.RemoveKeywords, StringComparer.Ordinal));
        return new OneWayResult(change, targetNow, dropped);
    }
}
