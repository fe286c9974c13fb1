using MailSync.Core.Mapping;
using MailSync.Core.Model;
using static MailSync.Tests.Unit.Mapping.MappingScenario;

namespace MailSync.Tests.Unit.Mapping;

/// <summary>Which listed names are carried and which are skipped, with the reason's words (null: carried).</summary>
public sealed class FolderNameCheckTests
{
    public static TheoryData<string, string, char, NamespaceInfo, string?> Rows() => new()
    {
        { "ordinary", "Archive/2024", '/', Dovecot, null },
        { "INBOX", "INBOX", '/', Dovecot, null },
        { "non-ASCII letters", "Entwürfe/Été", '/', Dovecot, null },
        { "Courier's prefix is not a level", "INBOX.Lists.dev", '.', Courier, null },
        { "an ampersand that is no modified UTF-7 is carried as it reads", "inv&AGE", '/', Dovecot, null },
        { "a flat namespace has no levels", "a..b", '\0', new NamespaceInfo("", '\0'), null },
        { "empty", "", '/', Dovecot, "empty" },
        { "NUL", "a\0b", '/', Dovecot, "control characters" },
        { "ESC", "x\u001b[31m", '/', Dovecot, "control characters" },
        { "CR LF", "line\r\nbreak", '/', Dovecot, "control characters" },
        { "C1", "a\u009bb", '/', Dovecot, "control characters" },
        { "undecodable bytes", "Caf\uFFFD", '/', Dovecot, "neither UTF-8 nor modified UTF-7" },
        { "leading delimiter", "/leading", '/', Dovecot, "empty level" },
        { "trailing delimiter", "trailing/", '/', Dovecot, "empty level" },
        { "doubled delimiter", "a//b", '/', Dovecot, "empty level" },
        { "dot dot", "../../escape", '/', Dovecot, "\"..\" level" },
        { "dot", "a/./b", '/', Dovecot, "\"..\" level" },
        { "64 levels", string.Join('/', Enumerable.Repeat("d", 64)), '/', Dovecot, null },
        { "300 levels", string.Join('/', Enumerable.Repeat("d", 300)), '/', Dovecot, "300 levels deep, more than 64" },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void A_name_is_carried_or_skipped_with_its_reason(string name, string fullName, char delimiter, NamespaceInfo ns, string? problem)
    {
        var found = FolderNameCheck.Problem(new FolderInfo(fullName, delimiter), ns);
        if (problem is null)
            Assert.True(found is null, $"{name}: {found}");
        else
            Assert.True(found is not null && found.Contains(problem, StringComparison.Ordinal), $"{name}: {found ?? "carried"}");
    }

    [Theory]
    [InlineData("Archive", "Archive", null)]
    [InlineData("Caf&AOk-", "Café", null)]
    [InlineData("A&-B", "A&B", null)]
    [InlineData("Café-8bit", "Café-8bit", "Café-8bit")]
    [InlineData("Caf\u00e9-latin1", "Caf\u00e9-latin1", "Caf\u00e9-latin1")]
    [InlineData("Caf\u00c3\u00a9", "Café", "Caf\u00c3\u00a9")]
    [InlineData("inv&AGE", "inva", "inv&AGE")]
    public void A_name_MailKit_had_to_guess_at_is_kept_as_listed(string listed, string fullName, string? guessed)
        => Assert.Equal(guessed, MailSync.Core.Stores.Imap.ImapStore.GuessedName(listed, fullName));
}
