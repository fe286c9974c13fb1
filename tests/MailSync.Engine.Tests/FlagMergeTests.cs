using MailSync.Core.Sync;

namespace MailSync.Engine.Tests;

/// <summary>
/// <see cref="FlagMerge.OneWay"/>: the source's change since the last sync, applied as a delta, so
/// what was set on the target meanwhile stays. Columns: source before → source now, target before,
/// keywords the target folder will not take; expected target after and the keywords dropped.
/// </summary>
public sealed class FlagMergeTests
{
    public sealed record Row(string Name, string SourceBefore, string SourceNow, string TargetBefore, string[] Refused, string TargetAfter, string[] Dropped, bool NoChange = false)
    {
        public override string ToString() => Name;
    }

    public static TheoryData<Row> Rows() =>
    [
        new("a flag set on the source is set on the target", "", "\\Seen", "", [], "\\Seen", []),
        new("a flag cleared on the source is cleared on the target", "\\Seen \\Flagged", "\\Seen", "\\Flagged \\Seen", [], "\\Seen", []),
        new("a flag set only on the target stays", "\\Seen", "\\Seen \\Answered", "\\Flagged \\Seen", [], "\\Answered \\Flagged \\Seen", []),
        new("a keyword added on the source is added", "", "$Label1", "", [], "$Label1", []),
        new("a keyword removed on the source is removed, other target keywords stay", "$Label1", "", "$Label1 mine", [], "mine", []),
        new("a keyword the target refuses is dropped by name, the rest still goes", "", "\\Seen big", "", ["big"], "\\Seen", ["big"]),
        new("no change on the source is no change on the target", "\\Seen", "\\Seen", "\\Seen \\Flagged", [], "\\Flagged \\Seen", [], NoChange: true),
    ];

    [Theory]
    [MemberData(nameof(Rows))]
    public void Carries_the_source_delta(Row row)
    {
        var (change, targetNow, dropped) = FlagMerge.OneWay(row.SourceBefore, row.SourceNow, row.TargetBefore,
            keywords => (keywords.Where(k => !row.Refused.Contains(k)).ToList(), keywords.Where(row.Refused.Contains).ToList()));

        Assert.Equal(row.TargetAfter, targetNow);
        Assert.Equal(row.Dropped, dropped);
        Assert.Equal(row.NoChange, change.IsEmpty);
    }
}
