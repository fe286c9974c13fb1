using MailKit;
using MailSync.Core.Checkpoints;
using MailSync.Core.Model;
using MailSync.Core.Sync;

namespace MailSync.Engine.Tests;

/// <summary>
/// <see cref="MessagePlanner"/>, one row per rule, in the notation of the folder-mapping tables:
/// the ledger's rows ("uid:state:flags"), what the source listed ("uid:flags"), and, after a
/// complete pass, the flags it reported ("uid:flags"); expected: the UIDs to copy and the flag
/// changes ("uid:now").
/// </summary>
public sealed class MessagePlannerTests
{
    public sealed record Row(string Name, string[] Ledger, string[] Listed, string[]? Flags, string[] Copy, string[] FlagChanges, int AlreadyCopied, int Failed)
    {
        public override string ToString() => Name;
    }

    public static TheoryData<Row> Rows() =>
    [
        new("first pass: everything is new", [], ["1:\\Seen", "2:"], null, ["1", "2"], [], 0, 0),
        new("first pass: a copied message is not copied again", ["1:copied:\\Seen"], ["1:\\Seen", "2:"], null, ["2"], [], 1, 0),
        new("first pass: a changed flag on a copy is a change", ["1:copied:\\Seen"], ["1:\\Seen \\Flagged"], null, [], ["1:\\Flagged \\Seen"], 1, 0),
        new("first pass: a keyword is a flag like any other", ["1:copied:"], ["1:$Label1"], null, [], ["1:$Label1"], 1, 0),
        new("\\Recent is not a flag MailSync carries", ["1:copied:\\Seen"], ["1:\\Seen \\Recent"], null, [], [], 1, 0),
        new("a failed message is reported, not copied and not retried", ["1:failed:"], ["1:", "2:"], null, ["2"], [], 0, 1),
        new("a pending intent is neither copied again nor a flag change (reconciliation settles it first)", ["1:pending:"], ["1:\\Seen"], null, [], [], 0, 0),
        new("later pass: new UIDs listed, flags from the flag fetch", ["1:copied:", "2:copied:\\Seen"], ["3:"], ["1:\\Seen", "2:\\Seen"], ["3"], ["1:\\Seen"], 2, 0),
        new("later pass: a flag report for a message the ledger lacks is ignored", ["1:copied:"], [], ["9:\\Seen"], [], [], 1, 0),
        new("later pass: listed flags of new messages are not changes", ["1:copied:"], ["2:\\Seen"], [], ["2"], [], 1, 0),
    ];

    [Theory]
    [MemberData(nameof(Rows))]
    public void Plans_the_pass(Row row)
    {
        var records = row.Ledger.Select(Record).ToDictionary(r => r.SourceUid);
        var listed = row.Listed.Select(Summary).ToList();
        var flags = row.Flags?.Select(State).ToList();

        var plan = MessagePlanner.Make(records, listed, flags);

        Assert.Equal(row.Copy, plan.ToCopy.Select(m => m.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(row.FlagChanges, plan.FlagChanges.Select(c => $"{c.Row.SourceUid}:{c.Now}"));
        Assert.Equal(row.AlreadyCopied, plan.AlreadyCopied);
        Assert.Equal(row.Failed, plan.EarlierFailures.Count);
    }

    private static MessageRecord Record(string text)
    {
        var parts = text.Split(':');
        var uid = uint.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
        var state = parts[1] switch { "copied" => MessageState.Copied, "failed" => MessageState.Failed, _ => MessageState.Pending };
        return new MessageRecord(uid, state == MessageState.Copied ? uid + 100 : null, state, null, 0, 10, 10, parts[2], parts[2], 1, 0, null);
    }

    private static MessageInfo Summary(string text)
    {
        var (uid, flags, keywords) = Flags(text);
        return new MessageInfo(uid, 10, DateTimeOffset.UnixEpoch, flags, keywords, null);
    }

    private static FlagState State(string text)
    {
        var (uid, flags, keywords) = Flags(text);
        return new FlagState(uid, flags, keywords);
    }

    private static (uint Uid, MessageFlags Flags, string[] Keywords) Flags(string text)
    {
        var parts = text.Split(':', 2);
        var flags = MessageFlags.None;
        var keywords = new List<string>();
        foreach (var word in parts[1].Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (word.StartsWith('\\'))
                flags |= Enum.Parse<MessageFlags>(word[1..]);
            else
                keywords.Add(word);
        }

        return (uint.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), flags, [.. keywords]);
    }
}
