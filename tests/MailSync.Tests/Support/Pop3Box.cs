using MailKit.Net.Pop3;
using MailKit.Security;
using MailSync.Tests.Infrastructure;

namespace MailSync.Tests.Support;

/// <summary>Reads a test user's POP3 maildrop as a POP3 client sees it: UIDL and the RETR bytes.</summary>
public static class Pop3Box
{
    public sealed record Message(string Uidl, byte[] Bytes);

    public static async Task<List<Message>> ReadAllAsync(DovecotServer server, TestUser user)
    {
        using var client = new Pop3Client();
        await client.ConnectAsync(server.Host, server.Pop3Port, SecureSocketOptions.None);
        await client.AuthenticateAsync(user.Name, user.Password);
        var result = new List<Message>();
        if (client.Count > 0)
        {
            var uids = await client.GetMessageUidsAsync();
            var streams = await client.GetStreamsAsync(0, client.Count);
            for (var i = 0; i < streams.Count; i++)
            {
                using var stream = streams[i];
                using var copy = new MemoryStream();
                await stream.CopyToAsync(copy);
                result.Add(new Message(uids[i], copy.ToArray()));
            }
        }

        // RSET first: this reader must leave the maildrop exactly as it found it.
        await client.ResetAsync();
        await client.DisconnectAsync(true);
        return result;
    }
}
