using MailKit;
using MailSync.Core.Jobs;
using MailSync.Tests.Infrastructure;
using MailSync.Tests.Support;

namespace MailSync.Tests.Integration;

/// <summary>
/// A migrate into a target that already holds some of the source's messages (copied by other
/// means, or by a run whose ledger is gone): they are paired by content, not appended again.
/// </summary>
[Collection(DovecotCollection.Name)]
public sealed class NonEmptyTargetTests(DovecotFixture fixture)
{
    private DovecotServer Server => fixture.Server;

    [Fact]
    public async Task Messages_already_on_the_target_are_paired_not_copied_again_and_get_the_source_flags()
    {
        var source = await Server.CreateUserAsync("nonempty-src");
        var target = await Server.CreateUserAsync("nonempty-dst");
        var messages = Synthetic.Messages(10, seed: 77).Select(m => m with { Flags = MessageFlags.Seen, Keywords = ["$Label1"] }).ToList();
        await Server.SeedAsync(source, "INBOX", messages);
        // Half of them are on the target already, unread and with a flag of the target's own, plus one the source never had.
        await Server.SeedAsync(target, "INBOX", messages.Take(5).Select(m => m with { Flags = MessageFlags.Flagged, Keywords = [] }));
        await Server.SeedAsync(target, "INBOX", Synthetic.Messages(1, seed: 78));

        using var job = JobFile.Create(Server, source, Server, target);
        var result = await job.RunAsync();

        Assert.Equal(JobStatus.Succeeded, result.Status);
        Assert.Equal(5, result.Appended);
        var inbox = Assert.Single(result.Folders, f => f.SourceFolder == "INBOX");
        Assert.Equal(5, inbox.FoundOnTarget);
        var copies = (await Mailbox.ReadAllAsync(Server, target))["INBOX"].Messages;
        Assert.Equal(11, copies.Count);
        // Every source message is there exactly once.
        static string Hash(byte[] b) => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(b));
        var onTarget = copies.GroupBy(c => Hash(c.Bytes)).ToDictionary(g => g.Key, g => g.Count());
        Assert.All(messages, m => Assert.Equal(1, onTarget.GetValueOrDefault(Hash(m.Raw))));
        // The paired copies (UIDs 1-5) got the source's flags and kept their own; the appended ones (7-11) have the source's.
        Assert.Equal(Enumerable.Repeat("\\Flagged \\Seen $Label1", 5), copies.Take(5).Select(c => c.Flags));
        Assert.Equal(Enumerable.Repeat("\\Seen $Label1", 5), copies.Skip(6).Select(c => c.Flags));

        var again = await job.RunAsync();
        Assert.Equal(0, again.Appended);
        Assert.Equal(0, again.Folders.Single(f => f.SourceFolder == "INBOX").FlagsUpdated);
    }
}
