using System.Globalization;
using MailSync.Tests.Infrastructure;

namespace MailSync.Tests.Support;

/// <summary>
/// A user's own changes to a mailbox, made by hand-written IMAP (never through MailSync): flags,
/// expunges and moves of messages found by their Message-ID in the selected folder, and looks at
/// what the server holds now.
/// </summary>
public sealed class RawEdits : IAsyncDisposable
{
    private readonly RawImapSession _raw;

    private RawEdits(RawImapSession raw) => _raw = raw;

    public static async Task<RawEdits> LoginAsync(IImapTestServer server, TestUser user)
        => new(await RawImapSession.LoginAsync(server.Host, server.ImapPort, user.Name, user.Password));

    /// <summary>The tagged OK to a command, or the test fails with the server's words.</summary>
    public async Task<RawImapResponse> OkAsync(string command)
    {
        var response = await _raw.CommandAsync(command);
        Assert.True(response.IsOk, $"{command}: {response}");
        return response;
    }

    public Task SelectAsync(string folder) => OkAsync($"SELECT {RawImapSession.Quote(ModifiedUtf7.Encode(folder))}");

    /// <summary>Selects read-only, to look without changing anything (not even \Recent).</summary>
    public Task ExamineAsync(string folder) => OkAsync($"EXAMINE {RawImapSession.Quote(ModifiedUtf7.Encode(folder))}");

    /// <summary>The UIDs of the selected folder's messages with these Message-IDs (given without angle brackets), each exactly one message.</summary>
    public async Task<List<uint>> UidsAsync(IEnumerable<string> messageIds)
    {
        var uids = new List<uint>();
        foreach (var id in messageIds)
        {
            var found = await SearchAsync($"HEADER Message-ID {RawImapSession.Quote($"<{id}>")}");
            uids.Add(Assert.Single(found));
        }

        return uids;
    }

    /// <summary>UID SEARCH in the selected folder.</summary>
    public async Task<List<uint>> SearchAsync(string criteria)
    {
        var response = await OkAsync($"UID SEARCH {criteria}");
        var line = response.Untagged.Single(l => l.StartsWith("* SEARCH", StringComparison.Ordinal));
        return [.. line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(2).Select(u => uint.Parse(u, CultureInfo.InvariantCulture))];
    }

    /// <summary>UID STORE of <paramref name="change"/> (e.g. "+FLAGS (\Flagged)") on the messages with these Message-IDs.</summary>
    public async Task StoreAsync(IEnumerable<string> messageIds, string change)
        => await OkAsync($"UID STORE {Set(await UidsAsync(messageIds))} {change}");

    /// <summary>\Deleted on the messages with these Message-IDs, then EXPUNGE.</summary>
    public async Task ExpungeAsync(IEnumerable<string> messageIds)
    {
        await StoreAsync(messageIds, "+FLAGS (\\Deleted)");
        await OkAsync("EXPUNGE");
    }

    /// <summary>UID MOVE of the messages with these Message-IDs into <paramref name="destination"/>.</summary>
    public async Task MoveAsync(IEnumerable<string> messageIds, string destination)
        => await OkAsync($"UID MOVE {Set(await UidsAsync(messageIds))} {RawImapSession.Quote(ModifiedUtf7.Encode(destination))}");

    public static string Set(IEnumerable<uint> uids) => string.Join(',', uids.Select(u => u.ToString(CultureInfo.InvariantCulture)));

    public ValueTask DisposeAsync() => _raw.DisposeAsync();
}
