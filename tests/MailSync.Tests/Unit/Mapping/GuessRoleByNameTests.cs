using MailSync.Core.Mapping;
using MailSync.Core.Model;

namespace MailSync.Tests.Unit.Mapping;

public sealed class GuessRoleByNameTests
{
    [Theory]
    [InlineData("INBOX", SpecialUse.Inbox)]
    [InlineData("inbox", SpecialUse.Inbox)]
    [InlineData("Sent", SpecialUse.Sent)]
    [InlineData("sent items", SpecialUse.Sent)]
    [InlineData("Sent Messages", SpecialUse.Sent)]
    [InlineData("Gesendete Objekte", SpecialUse.Sent)]
    [InlineData("Éléments envoyés", SpecialUse.Sent)]
    [InlineData("éléments envoyés", SpecialUse.Sent)]
    [InlineData("Posta inviata", SpecialUse.Sent)]
    [InlineData("[Gmail]/Sent Mail", SpecialUse.Sent)]
    [InlineData("[Google Mail]/Gesendet", SpecialUse.Sent)]
    [InlineData("Entwürfe", SpecialUse.Drafts)]
    [InlineData("[Gmail]/Drafts", SpecialUse.Drafts)]
    [InlineData("Deleted Items", SpecialUse.Trash)]
    [InlineData("[Gmail]/Bin", SpecialUse.Trash)]
    [InlineData("Papelera", SpecialUse.Trash)]
    [InlineData("Junk E-mail", SpecialUse.Junk)]
    [InlineData("Junk-E-Mail", SpecialUse.Junk)]
    [InlineData("Bulk Mail", SpecialUse.Junk)]
    [InlineData("[Gmail]/Spam", SpecialUse.Junk)]
    [InlineData("Archiv", SpecialUse.Archive)]
    [InlineData("[Gmail]/All Mail", SpecialUse.All)]
    [InlineData("[Google Mail]/All Mail", SpecialUse.All)]
    [InlineData("[Gmail]/Starred", SpecialUse.Flagged)]
    [InlineData("[Gmail]/Important", SpecialUse.Important)]
    // Gmail's system names mean nothing outside the Gmail container, and known names nothing deeper.
    [InlineData("Important", SpecialUse.None)]
    [InlineData("All Mail", SpecialUse.None)]
    [InlineData("Work/Sent", SpecialUse.None)]
    [InlineData("INBOX/Sent", SpecialUse.None)]
    [InlineData("Sent Stuff", SpecialUse.None)]
    [InlineData("", SpecialUse.None)]
    public void GuessRoleByName(string path, SpecialUse expected) =>
        Assert.Equal(expected, FolderMapper.GuessRoleByName(path));
}
