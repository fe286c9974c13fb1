using MailKit;
using MailSync.Core.Sync;

namespace MailSync.Tests.Unit.Sync;

/// <summary><see cref="FlagText.Parse"/> is the inverse of <see cref="FlagText.Format"/>: the ledger's flag strings go both ways.</summary>
public sealed class FlagTextTests
{
    public static TheoryData<MessageFlags, string[]> Cases() => new()
    {
        { MessageFlags.None, [] },
        { MessageFlags.Seen, [] },
        { FlagText.Settable, [] },
        { MessageFlags.Answered | MessageFlags.Flagged, ["$Label2"] },
        { MessageFlags.None, ["zeta", "$Forwarded", "Alpha", "$Junk"] },
        { MessageFlags.Draft | MessageFlags.Deleted, ["NonJunk", "$MDNSent"] },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Parse_round_trips_Format(MessageFlags flags, string[] keywords)
    {
        var text = FlagText.Format(flags, keywords);

        var (parsedFlags, parsedKeywords) = FlagText.Parse(text);

        Assert.Equal(flags, parsedFlags);
        Assert.Equal(keywords.Order(StringComparer.Ordinal), parsedKeywords);
        Assert.Equal(text, FlagText.Format(parsedFlags, parsedKeywords));
    }

    [Fact]
    public void Format_is_sorted_so_equal_sets_give_equal_strings()
    {
        Assert.Equal(
            FlagText.Format(MessageFlags.Seen | MessageFlags.Answered, ["b", "a"]),
            FlagText.Format(MessageFlags.Answered | MessageFlags.Seen, ["a", "b"]));
        Assert.Equal("\\Answered \\Seen a b", FlagText.Format(MessageFlags.Seen | MessageFlags.Answered, ["b", "a"]));
    }

    [Fact]
    public void Parse_ignores_unknown_system_flags_and_extra_spaces_and_reads_system_flags_in_any_case()
    {
        var (flags, keywords) = FlagText.Parse("  \\seen  \\Recent \\Whatever $Label1   \\FLAGGED ");

        Assert.Equal(MessageFlags.Seen | MessageFlags.Flagged, flags);
        Assert.Equal(["$Label1"], keywords);
    }

    [Fact]
    public void Parse_of_an_empty_string_is_nothing()
    {
        var (flags, keywords) = FlagText.Parse(string.Empty);

        Assert.Equal(MessageFlags.None, flags);
        Assert.Empty(keywords);
    }
}
