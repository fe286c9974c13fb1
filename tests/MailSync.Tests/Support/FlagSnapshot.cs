using MailKit;
using MailSync.Core.Sync;
using MailSync.Tests.Infrastructure;

namespace MailSync.Tests.Support;

/// <summary>Reads and changes a test user's flags and keywords by Message-ID, the way a mail client would.</summary>
public static class FlagSnapshot
{
    /// <summary>
    /// Message-ID (without angle brackets) to its flags and keywords in ledger spelling
    /// (<see cref="FlagText.Format"/>); messages without a Message-ID are left out.
    /// </summary>
    public static async Task<Dictionary<string, string>> TakeAsync(DovecotServer server, TestUser user, string folder)
    {
        using var client = await server.ConnectAsync(user);
        var mailbox = await client.GetFolderAsync(folder);
        await mailbox.OpenAsync(FolderAccess.ReadOnly);
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (mailbox.Count > 0)
        {
            var summaries = await mailbox.FetchAsync(0, -1, MessageSummaryItems.Envelope | MessageSummaryItems.Flags);
            foreach (var s in summaries)
            {
                if (s.Envelope?.MessageId is not { } id)
                    continue;
                Assert.True(result.TryAdd(id, FlagText.Format(s.Flags!.Value & FlagText.Settable, s.Keywords)), $"{folder}: {id} is there twice");
            }
        }

        await client.DisconnectAsync(quit: true);
        return result;
    }

    /// <summary>Adds or removes flags and keywords on the messages with these Message-IDs (without angle brackets).</summary>
    public static async Task StoreAsync(
        DovecotServer server, TestUser user, string folder, IEnumerable<string> messageIds, StoreAction action, MessageFlags flags, params string[] keywords)
    {
        using var client = await server.ConnectAsync(user);
        var mailbox = await client.GetFolderAsync(folder);
        await mailbox.OpenAsync(FolderAccess.ReadWrite);
        var wanted = messageIds.ToHashSet(StringComparer.Ordinal);
        var summaries = await mailbox.FetchAsync(0, -1, MessageSummaryItems.UniqueId | MessageSummaryItems.Envelope);
        var uids = summaries.Where(s => s.Envelope?.MessageId is { } id && wanted.Contains(id)).Select(s => s.UniqueId).ToList();
        Assert.Equal(wanted.Count, uids.Count);
        await mailbox.StoreAsync(uids, new StoreFlagsRequest(action, flags, keywords) { Silent = true });
        await client.DisconnectAsync(quit: true);
    }
}
