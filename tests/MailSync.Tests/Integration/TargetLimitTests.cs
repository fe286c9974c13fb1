using System.Text;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Security;
using MailSync.Core.Stores;
using MailSync.Tests.Infrastructure;

namespace MailSync.Tests.Integration;

/// <summary>
/// A target that refuses messages: the feature server stores at most 64 KiB per message and
/// 256 KiB per user (quota plugin), and says so with a tagged NO to APPEND.
/// </summary>
[Collection(FeatureDovecotCollection.Name)]
public sealed class TargetLimitTests(FeatureDovecotFixture fixture)
{
    private const int KiB = 1024;
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(30);

    private DovecotServer Server => fixture.Server;

    [Fact]
    public async Task Append_over_the_size_limit_is_refused_with_NO_LIMIT_and_the_limit_itself_is_stored()
    {
        var limit = FeatureDovecotFixture.Options.MaxMailSizeKb!.Value * KiB;
        var user = await Server.CreateUserAsync("toobig");
        var transcript = new ProtocolTranscript();
        using var client = await ConnectAsync(user, transcript);
        await client.Inbox.OpenAsync(FolderAccess.ReadWrite);

        var refused = await Assert.ThrowsAsync<ImapCommandException>(() => AppendAsync(client, limit + 1));
        var stored = await AppendAsync(client, limit);

        Assert.Equal(ImapCommandResponse.No, refused.Response);
        Assert.StartsWith("Mail size is larger than the maximum size allowed by server configuration", refused.ResponseText);
        Assert.StartsWith(
            "The IMAP server replied to the 'APPEND' command with a 'NO' response: Mail size is larger than",
            refused.Message);
        // MailKit drops the response code; the transcript has it.
        Assert.Contains(transcript.ServerLines, l => l.Contains(" NO [LIMIT] Mail size is larger than the maximum size allowed by server configuration", StringComparison.Ordinal));
        Assert.True(client.IsConnected);
        Assert.NotNull(stored);
        Assert.Equal(1, client.Inbox.Count);
        var summary = Assert.Single(await client.Inbox.FetchAsync([stored.Value], MessageSummaryItems.Size));
        Assert.Equal((uint)limit, summary.Size);
    }

    [Fact]
    public async Task Append_past_the_storage_quota_is_refused_with_NO_OVERQUOTA()
    {
        var user = await Server.CreateUserAsync("full");
        var transcript = new ProtocolTranscript();
        using var client = await ConnectAsync(user, transcript);
        await client.Inbox.OpenAsync(FolderAccess.ReadWrite);

        // 60 KiB messages into 256 KiB: four fit, the fifth would pass the quota.
        for (var i = 0; i < 4; i++)
        {
            await AppendAsync(client, 60 * KiB);
        }

        var refused = await Assert.ThrowsAsync<ImapCommandException>(() => AppendAsync(client, 60 * KiB));

        Assert.Equal(ImapCommandResponse.No, refused.Response);
        Assert.StartsWith("Quota exceeded (mailbox for user is full)", refused.ResponseText);
        Assert.Contains(transcript.ServerLines, l => l.Contains(" NO [OVERQUOTA] Quota exceeded (mailbox for user is full)", StringComparison.Ordinal));
        Assert.Equal(4, client.Inbox.Count);
        var quota = await client.Inbox.GetQuotaAsync();
        Assert.Equal((uint)FeatureDovecotFixture.Options.QuotaStorageKb!.Value, quota.StorageLimit);
        Assert.Equal(240u, quota.CurrentStorageSize);

        // Still room for a small one.
        Assert.NotNull(await AppendAsync(client, 8 * KiB));
    }

    private async Task<ImapClient> ConnectAsync(TestUser user, ProtocolTranscript transcript)
    {
        var client = new ImapClient(transcript) { Timeout = (int)ClientTimeout.TotalMilliseconds };
        try
        {
            await client.ConnectAsync(Server.Host, Server.ImapPort, SecureSocketOptions.None);
            await client.AuthenticateAsync(user.Name, user.Password);
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>APPENDs a message of exactly <paramref name="size"/> bytes to INBOX.</summary>
    private static Task<UniqueId?> AppendAsync(ImapClient client, int size)
    {
        var header = "From: a@example.org\r\nTo: b@example.org\r\nSubject: " + size + " bytes\r\n\r\n";
        var raw = Encoding.ASCII.GetBytes(header + new string('x', size - header.Length - 2) + "\r\n");
        var message = VerbatimMessage.Create(new MemoryStream(raw, writable: false));
        return client.Inbox.AppendAsync(new AppendRequest(message, MessageFlags.None));
    }
}
