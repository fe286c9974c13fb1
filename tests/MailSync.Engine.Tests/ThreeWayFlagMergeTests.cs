using MailSync.Core.Model;
using MailSync.Core.Sync;

namespace MailSync.Engine.Tests;

/// <summary>
/// <see cref="FlagMerge.ThreeWay"/>, one row per rule: each side's flags last synced and now, and
/// the change expected on each side ("+\Seen -$Old", "" for none). Every row is also run with the
/// sides swapped, which must give the mirrored changes.
/// </summary>
public sealed class ThreeWayFlagMergeTests
{
    public sealed record Row(string Name, string LastA, string NowA, string LastB, string NowB, string ChangeA, string ChangeB, bool SetWins = true)
    {
        public override string ToString() => Name;
    }

    public static TheoryData<Row> Rows() =>
    [
        new("nothing changed: no writes", "\\Seen", "\\Seen", "\\Seen", "\\Seen", "", ""),
        new("set on A: set on B", "", "\\Seen", "", "", "", "+\\Seen"),
        new("cleared on A: cleared on B", "\\Flagged", "", "\\Flagged", "\\Flagged", "", "-\\Flagged"),
        new("set on A, another flag cleared on B: each reaches the other side", "\\Flagged", "\\Flagged \\Seen", "\\Flagged", "", "-\\Flagged", "+\\Seen"),
        new("the same change on both sides: no writes", "", "\\Answered", "", "\\Answered", "", ""),
        new("a flag only B keeps, unchanged, is left alone", "", "", "$Junk", "$Junk", "", ""),
        new("a keyword added on B reaches A", "", "", "", "$Label1", "+$Label1", ""),
        new("keywords compare without case", "$label1", "$label1", "$Label1", "$Label1", "", ""),
        new("a keyword removed on A is removed on B", "$Todo", "", "$Todo", "$Todo", "", "-$Todo"),
        new("both changed it apart (A cleared, B set): set wins by default", "\\Flagged", "", "", "\\Flagged", "+\\Flagged", ""),
        new("both changed it apart, clear wins when asked", "\\Flagged", "", "", "\\Flagged", "", "-\\Flagged", SetWins: false),
    ];

    [Theory]
    [MemberData(nameof(Rows))]
    public void Merges_each_flag_on_its_own(Row row)
    {
        var changes = FlagMerge.ThreeWay(new Sides<string>(row.LastA, row.LastB), new Sides<string>(row.NowA, row.NowB), row.SetWins);
        Assert.Equal(row.ChangeA, Text(changes.A));
        Assert.Equal(row.ChangeB, Text(changes.B));

        var mirrored = FlagMerge.ThreeWay(new Sides<string>(row.LastB, row.LastA), new Sides<string>(row.NowB, row.NowA), row.SetWins);
        Assert.Equal(row.ChangeB, Text(mirrored.A));
        Assert.Equal(row.ChangeA, Text(mirrored.B));
    }

    private static string Text(FlagChange change)
    {
        var add = FlagText.Format(change.Add, change.AddKeywords);
        var remove = FlagText.Format(change.Remove, change.RemoveKeywords);
        return string.Join(' ', add.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(f => "+" + f)
            .Concat(remove.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(f => "-" + f)));
    }
}
