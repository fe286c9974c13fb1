using MailSync.Core.Sync;

namespace MailSync.Tests.Unit.Sync;

/// <summary><see cref="TargetKeywords"/>: which keywords are sent to a target folder before and after it runs out of room.</summary>
public sealed class TargetKeywordsTests
{
    [Fact]
    public void A_folder_that_takes_any_keyword_gets_every_keyword_until_it_refuses_one()
    {
        var keywords = new TargetKeywords(["$Held"], acceptsAny: true);
        Expect(keywords.Filter(["$Held", "new"]), ["$Held", "new"], []);

        keywords.Held(["new"]);
        keywords.Full();

        // After the refusal: what it holds (also what was appended since SELECT) goes, the rest is named.
        Expect(keywords.Filter(["$held", "NEW", "other"]), ["$held", "NEW"], ["other"]);
        Assert.False(keywords.TakesNew);
    }

    [Fact]
    public void A_folder_without_backslash_star_takes_only_its_permanent_keywords()
    {
        var keywords = new TargetKeywords(["$Label1"], acceptsAny: false);
        Expect(keywords.Filter(["$Label1", "$Label2"]), ["$Label1"], ["$Label2"]);
    }

    [Theory]
    [InlineData("Too many user flags in mailbox", true)]
    [InlineData("[LIMIT] Too many keywords", true)]
    [InlineData("Too many flags", true)]
    [InlineData("Message contains invalid header", false)]
    [InlineData("[OVERQUOTA] Quota exceeded", false)]
    public void A_refusal_is_a_keyword_limit_only_when_it_says_so(string text, bool limit)
        => Assert.Equal(limit, TargetKeywords.IsKeywordLimit(text));

    private static void Expect((List<string> Send, List<string> Dropped) result, string[] send, string[] dropped)
    {
        Assert.Equal(send, result.Send);
        Assert.Equal(dropped, result.Dropped);
    }
}
