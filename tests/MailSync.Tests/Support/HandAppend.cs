using MailKit;
using MailKit.Net.Imap;
using MailSync.Tests.Infrastructure;

namespace MailSync.Tests.Support;

/// <summary>
/// What a server itself makes of a message: the bytes APPENDed by hand (<see cref="RawImapSession"/>)
/// to a scratch user's INBOX, then read back as BODY.PEEK[]. Where a MailSync copy differs from its
/// source, the difference is allowed only if this gives the same result (the target changed it,
/// not MailSync). One scratch user and session per instance.
/// </summary>
public sealed class HandAppend : IAsyncDisposable
{
    private readonly IImapTestServer _server;
    private readonly RawImapSession _session;
    private readonly ImapClient _reader;

    private HandAppend(IImapTestServer server, RawImapSession session, ImapClient reader)
    {
        _server = server;
        _session = session;
        _reader = reader;
    }

    public static async Task<HandAppend> OpenAsync(IImapTestServer server)
    {
        var user = await server.CreateTestUserAsync("byhand");
        var session = await RawImapSession.LoginAsync(server.Host, server.ImapPort, user.Name, user.Password);
        // Read back the way the tests read every mailbox (Support/Mailbox): MailKit, a session of its own.
        return new HandAppend(server, session, await server.ConnectAsync(user));
    }

    /// <summary>As <see cref="StoreAsync(byte[])"/>, on a scratch user of its own.</summary>
    public static async Task<(byte[]? Stored, string? Refusal)> StoreAsync(IImapTestServer server, byte[] raw)
    {
        await using var once = await OpenAsync(server);
        return await once.StoreAsync(raw);
    }

    /// <summary>The bytes the server serves after storing <paramref name="raw"/>, or its refusal line.</summary>
    public async Task<(byte[]? Stored, string? Refusal)> StoreAsync(byte[] raw)
    {
        // Cyrus answers a zero-length literal at once and then misreads the next command: such a
        // message gets a session of its own.
        if (raw.Length == 0)
        {
            await using var session = await RawImapSession.LoginAsync(_server.Host, _server.ImapPort, _session.Login.User, _session.Login.Password);
            var (_, emptyRefusal) = await session.TryAppendAsync("INBOX", raw, MessageFlags.None, [], new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero));
            if (emptyRefusal is not null)
                return (null, emptyRefusal);
        }
        else
        {
            var (_, refusal) = await _session.TryAppendAsync("INBOX", raw, MessageFlags.None, [], new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero));
            if (refusal is not null)
                return (null, refusal);
        }

        // Opened again to see the new message; it is the last one.
        await _reader.Inbox.OpenAsync(FolderAccess.ReadOnly);
        using var stream = await _reader.Inbox.GetStreamAsync(_reader.Inbox.Count - 1, string.Empty);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return (copy.ToArray(), null);
    }

    public async ValueTask DisposeAsync()
    {
        await _session.DisposeAsync();
        _reader.Dispose();
    }
}
