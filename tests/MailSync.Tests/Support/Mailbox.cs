using MailKit;
using MailKit.Net.Imap;
using MailSync.Tests.Infrastructure;

namespace MailSync.Tests.Support;

/// <summary>Reads whole mailboxes of a test user, for comparing source and target.</summary>
public static class Mailbox
{
    public sealed record Message(uint Uid, byte[] Bytes, DateTimeOffset InternalDate, string Flags);

    public sealed record Folder(string Path, bool Subscribed, IReadOnlyList<Message> Messages);

    /// <summary>Every folder of the user, paths with '/' and without namespace prefix, with every message's bytes.</summary>
    public static async Task<Dictionary<string, Folder>> ReadAllAsync(IImapTestServer server, TestUser user)
    {
        using var client = await server.ConnectAsync(user);
        var ns = client.PersonalNamespaces[0];
        var prefix = ns.Path.Length > 0 ? ns.Path + ns.DirectorySeparator : string.Empty;
        var subscribed = (await client.GetFoldersAsync(ns, StatusItems.None, true)).Select(f => f.FullName).ToHashSet();
        var all = (await client.GetFoldersAsync(ns, StatusItems.None, false)).Prepend(client.Inbox).DistinctBy(f => f.FullName);
        var result = new Dictionary<string, Folder>();
        foreach (var folder in all)
        {
            if ((folder.Attributes & (FolderAttributes.NoSelect | FolderAttributes.NonExistent)) != 0)
                continue;
            var path = folder.FullName.StartsWith(prefix, StringComparison.Ordinal) && prefix.Length > 0 ? folder.FullName[prefix.Length..] : folder.FullName;
            path = path.Replace(ns.DirectorySeparator, '/');
            await folder.OpenAsync(FolderAccess.ReadOnly);
            var messages = new List<Message>();
            if (folder.Count > 0)
            {
                var summaries = await folder.FetchAsync(0, -1, MessageSummaryItems.UniqueId | MessageSummaryItems.InternalDate | MessageSummaryItems.Flags);
                // All bodies in one FETCH: a server that answers each command in small delayed
                // segments (Courier) would otherwise cost tens of milliseconds per message.
                var bodies = new Dictionary<uint, byte[]>();
                await ((ImapFolder)folder).GetStreamsAsync(summaries.Select(x => x.UniqueId).ToList(), async (_, _, uid, stream, ct) =>
                {
                    using var copy = new MemoryStream();
                    await stream.CopyToAsync(copy, ct);
                    bodies[uid.Id] = copy.ToArray();
                });
                foreach (var s in summaries.OrderBy(s => s.UniqueId.Id))
                {
                    var flags = MailSync.Core.Sync.FlagText.Format(s.Flags!.Value & MailSync.Core.Sync.FlagText.Settable, s.Keywords);
                    messages.Add(new Message(s.UniqueId.Id, bodies[s.UniqueId.Id], s.InternalDate!.Value, flags));
                }
            }

            await folder.CloseAsync();
            result[path] = new Folder(path, subscribed.Contains(folder.FullName) || path == "INBOX", messages);
        }

        await client.DisconnectAsync(true);
        return result;
    }
}
