using MailSync.Core.Model;

namespace MailSync.Core.Sync;

/// <summary>
/// Flag arithmetic on the ledger's flag texts (<see cref="FlagText"/>). Pure, table-tested
/// (FlagMergeTests). One-way (migrate, backup): the source's change since the last sync is applied
/// as a delta, so what was set on the target meanwhile stays. Three-way (two-way sync, not yet
/// wired into an engine): each flag is merged on its own against what each side had last time.
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

    /// <summary>
    /// The 3-way merge per flag and keyword for a paired message. <paramref name="lastSeen"/> holds
    /// each side's flags as the ledger last recorded them, <paramref name="now"/> what each side has
    /// now. A flag that changed on one side only takes that side's value on both; one that changed
    /// on neither is left alone on each (a side may keep a flag of its own). It can only conflict
    /// when both sides changed it and disagree, which needs the two sides' last values to have
    /// differed; then <paramref name="setWins"/> decides (set, by default: nothing a user marked is
    /// lost). Returns the change to make on each side.
    /// </summary>
    public static Sides<FlagChange> ThreeWay(Sides<string> lastSeen, Sides<string> now, bool setWins = true)
    {
        var last = new Sides<(MailKit.MessageFlags Flags, List<string> Keywords)>(FlagText.Parse(lastSeen.A), FlagText.Parse(lastSeen.B));
        var current = new Sides<(MailKit.MessageFlags Flags, List<string> Keywords)>(FlagText.Parse(now.A), FlagText.Parse(now.B));
        var addA = MailKit.MessageFlags.None;
        var addB = MailKit.MessageFlags.None;
        var removeA = MailKit.MessageFlags.None;
        var removeB = MailKit.MessageFlags.None;
        foreach (var flag in new[] { MailKit.MessageFlags.Seen, MailKit.MessageFlags.Answered, MailKit.MessageFlags.Flagged, MailKit.MessageFlags.Deleted, MailKit.MessageFlags.Draft })
        {
            var (toA, toB) = Merge(
                new Sides<bool>(last.A.Flags.HasFlag(flag), last.B.Flags.HasFlag(flag)),
                new Sides<bool>(current.A.Flags.HasFlag(flag), current.B.Flags.HasFlag(flag)), setWins);
            if (toA == true) addA |= flag;
            if (toA == false) removeA |= flag;
            if (toB == true) addB |= flag;
            if (toB == false) removeB |= flag;
        }

        var keywordsAddA = new List<string>();
        var keywordsAddB = new List<string>();
        var keywordsRemoveA = new List<string>();
        var keywordsRemoveB = new List<string>();
        var all = last.A.Keywords.Concat(last.B.Keywords).Concat(current.A.Keywords).Concat(current.B.Keywords)
            .Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.Ordinal);
        foreach (var keyword in all)
        {
            bool Has(List<string> list) => list.Contains(keyword, StringComparer.OrdinalIgnoreCase);
            var (toA, toB) = Merge(
                new Sides<bool>(Has(last.A.Keywords), Has(last.B.Keywords)),
                new Sides<bool>(Has(current.A.Keywords), Has(current.B.Keywords)), setWins);
            (toA == true ? keywordsAddA : toA == false ? keywordsRemoveA : null)?.Add(keyword);
            (toB == true ? keywordsAddB : toB == false ? keywordsRemoveB : null)?.Add(keyword);
        }

        return new Sides<FlagChange>(
            new FlagChange(addA, keywordsAddA, removeA, keywordsRemoveA),
            new FlagChange(addB, keywordsAddB, removeB, keywordsRemoveB));
    }

    /// <summary>One flag: what to set (true), clear (false) or leave (null) on A and on B.</summary>
    private static (bool? ToA, bool? ToB) Merge(Sides<bool> last, Sides<bool> now, bool setWins)
    {
        var changedA = now.A != last.A;
        var changedB = now.B != last.B;
        bool? value = (changedA, changedB) switch
        {
            (false, false) => null,
            (true, false) => now.A,
            (false, true) => now.B,
            _ => now.A == now.B ? now.A : setWins,
        };
        if (value is not { } v)
            return (null, null);
        return (now.A == v ? null : v, now.B == v ? null : v);
    }
}
