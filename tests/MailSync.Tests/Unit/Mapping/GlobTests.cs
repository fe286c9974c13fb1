using MailSync.Core.Mapping;

namespace MailSync.Tests.Unit.Mapping;

public sealed class GlobTests
{
    [Theory]
    [InlineData("Trash", "Trash", true)]
    [InlineData("trash", "Trash", true)]
    [InlineData("Trash", "Trash/Old", false)]
    [InlineData("Archive/*", "Archive/2020", true)]
    [InlineData("Archive/*", "Archive/2020/Q1", true)]
    [InlineData("Archive/%", "Archive/2020", true)]
    [InlineData("Archive/%", "Archive/2020/Q1", false)]
    [InlineData("Archive*", "Archive", true)]
    [InlineData("Archive*", "Archive/2020", true)]
    [InlineData("Archive%", "Archive/2020", false)]
    [InlineData("%/Q1", "2020/Q1", true)]
    [InlineData("%/Q1", "Archive/2020/Q1", false)]
    [InlineData("*/Q1", "Archive/2020/Q1", true)]
    [InlineData("*", "", true)]
    [InlineData("%", "INBOX", true)]
    [InlineData("%", "a/b", false)]
    [InlineData("20?0", "2020", true)]
    [InlineData("20?0", "200", false)]
    [InlineData("[Gmail]/*", "[Gmail]/All Mail", true)]
    [InlineData("[gmail]/all mail", "[Gmail]/All Mail", true)]
    [InlineData("Ärger", "ärger", true)]
    [InlineData("a*b*c", "axxbyyc", true)]
    [InlineData("a*b*c", "axxbyy", false)]
    public void MatchesGlob(string pattern, string path, bool expected) =>
        Assert.Equal(expected, FolderMapper.MatchesGlob(pattern, path));
}
