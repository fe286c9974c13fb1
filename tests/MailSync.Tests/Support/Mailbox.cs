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
    public static async Task<Dictionary<string, Folder>> ReadAllAsync(DovecotServer server, TestUser user)
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
                foreach (var s in summaries.OrderBy(s => s.UniqueId.Id))
                {
                    using var stream = await folder.GetStreamAsync(s.UniqueId, string.Empty);
                    using var copy = new MemoryStream();
                    await stream.CopyToAsync(copy);
                    var flags = MailSync.Core.Sync.FlagText.Format(s.Flags!.Value & MailSync.Core.Sync.FlagText.Settable, s.Keywords);
                    messages.Add(new Message(s.UniqueId.Id, copy.ToArray(), s.InternalDate!.Value, flags));
                }
            }

            await folder.CloseAsync();
            result[path] = new Folder(path, subscribed.Contains(folder.FullName) || path == "INBOX", messages);
        }

        await client.DisconnectAsync(true);
        return result;
    }
}
