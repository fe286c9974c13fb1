using System.Security.Cryptography;
using MailKit;
using MailKit.Net.Imap;
using MailKit.Security;
using MimeKit;

namespace MailSync.Bench;

/// <summary>One message as IMAP shows it.</summary>
internal sealed record MessageState(
    uint Uid, string Sha256, long Size, MessageFlags Flags, IReadOnlyList<string> Keywords,
    DateTimeOffset InternalDate, string? MessageId);

internal sealed record FolderState(string Name, uint UidValidity, bool Selectable, List<MessageState> Messages);

/// <summary>Every folder of one account, with every message's hash, flags, keywords and date.</summary>
internal sealed class MailboxState
{
    public SortedDictionary<string, FolderState> Folders { get; } = new(StringComparer.Ordinal);
    public int MessageCount => Folders.Values.Sum(f => f.Messages.Count);
    public long Bytes => Folders.Values.Sum(f => f.Messages.Sum(m => m.Size));
}

/// <summary>
/// SHA-256 and size by (folder, UIDVALIDITY, UID): IMAP guarantees that this triple names
/// immutable content, so a message hashed once is not downloaded again. A source user made by
/// copying the pristine user's files starts with the pristine cache (same UIDVALIDITY and UIDs);
/// every target starts empty.
/// </summary>
internal sealed class HashCache
{
    private readonly Dictionary<(string, uint, uint), (string Sha, long Size)> _map;

    public HashCache() => _map = [];
    private HashCache(Dictionary<(string, uint, uint), (string, long)> map) => _map = new(map);

    public HashCache Copy() => new(_map);

    public bool TryGet(string folder, uint validity, uint uid, out (string Sha, long Size) value) =>
        _map.TryGetValue((folder, validity, uid), out value);

    public void Set(string folder, uint validity, uint uid, string sha, long size) => _map[(folder, validity, uid)] = (sha, size);
}

internal static class Imap
{
    /// <summary>Messages above this size are hashed in chunks of this many bytes (BODY.PEEK[]&lt;o.n&gt;).</summary>
    private const int ChunkBytes = 4 * 1024 * 1024;

    public static async Task<ImapClient> ConnectAsync(int port, string user, CancellationToken ct)
    {
        var client = new ImapClient { Timeout = 300_000 };
        await client.ConnectAsync("127.0.0.1", port, SecureSocketOptions.None, ct);
        await client.AuthenticateAsync(user, DovecotInstance.Password, ct);
        return client;
    }

    // ------------------------------------------------------------------ seeding

    /// <summary>
    /// Creates the corpus folders and appends the planned messages with MULTIAPPEND (batches of at
    /// most 8 MB or 500 messages), with their flags, keywords and INTERNALDATE. Returns the SHA-256
    /// of each generated message by (folder, index) for the seed fidelity check.
    /// </summary>
    public static async Task<Dictionary<string, string>> SeedAsync(
        int port, string user, IEnumerable<string> folders, IReadOnlyList<MessagePlan> plans, CancellationToken ct,
        Action<int>? progress = null)
    {
        using var client = await ConnectAsync(port, user, ct);
        await EnsureFoldersAsync(client, folders, ct);
        var generated = new Dictionary<string, string>(StringComparer.Ordinal);
        var done = 0;
        foreach (var group in plans.GroupBy(p => p.Folder))
        {
            var folder = await client.GetFolderAsync(group.Key, ct);
            var batch = new List<IAppendRequest>();
            long batchBytes = 0;
            async Task FlushAsync()
            {
                if (batch.Count == 0) return;
                await folder.AppendAsync(FormatOptions.Default, batch, ct);
                done += batch.Count;
                progress?.Invoke(done);
                foreach (var r in batch) r.Message.Dispose();
                batch.Clear();
                batchBytes = 0;
            }
            foreach (var plan in group)
            {
                var bytes = Corpus.Render(plan);
                generated[Convert.ToHexString(SHA256.HashData(bytes))] = plan.Folder;
                if (batch.Count > 0 && (batchBytes + bytes.Length > 8 * 1024 * 1024 || batch.Count >= 500)) await FlushAsync();
                var message = await MimeMessage.LoadAsync(new MemoryStream(bytes, writable: false), persistent: true, ct);
                batch.Add(new AppendRequest(message, plan.Flags, plan.Keywords, plan.InternalDate));
                batchBytes += bytes.Length;
            }
            await FlushAsync();
        }
        await client.DisconnectAsync(true, ct);
        return generated;
    }

    private static async Task EnsureFoldersAsync(ImapClient client, IEnumerable<string> folders, CancellationToken ct)
    {
        var root = client.GetFolder(client.PersonalNamespaces[0]) ?? throw new InvalidOperationException("no personal namespace");
        var all = new HashSet<string>(StringComparer.Ordinal) { "INBOX" };
        foreach (var f in await client.GetFoldersAsync(client.PersonalNamespaces[0], cancellationToken: ct)) all.Add(f.FullName);
        foreach (var name in folders)
        {
            if (all.Contains(name)) continue;
            var slash = name.LastIndexOf('/');
            var parent = slash < 0 ? root : await client.GetFolderAsync(name[..slash], ct);
            var created = await parent.CreateAsync(name[(slash + 1)..], true, ct)
                ?? throw new InvalidOperationException($"could not create {name}");
            await created.SubscribeAsync(ct);
            all.Add(name);
        }
    }

    // ------------------------------------------------------------------ mutation

    /// <summary>
    /// The incremental change: changes flags or keywords on <paramref name="flagChanges"/> existing messages
    /// picked by a fixed seed across all folders, with STORE FLAGS (replace). The four kinds of change,
    /// in turn: toggle \Seen; add \Flagged and \Answered; add the keywords $Label2 and Urgent;
    /// remove every keyword (or add $Forwarded to a message without any). Then appends
    /// <paramref name="additions"/> (another seed, dated after the corpus).
    /// </summary>
    public static async Task MutateAsync(int port, string user, IReadOnlyList<MessagePlan> additions, int flagChanges, int seed, CancellationToken ct)
    {
        using var client = await ConnectAsync(port, user, ct);
        var candidates = new List<(string Folder, uint Uid, MessageFlags Flags, IReadOnlyList<string> Keywords)>();
        foreach (var folder in (await ListAsync(client, ct)).Where(f => f.Selectable))
        {
            var f = await client.GetFolderAsync(folder.Name, ct);
            await f.OpenAsync(FolderAccess.ReadOnly, ct);
            if (f.Count > 0)
            {
                var items = await f.FetchAsync(0, -1, new FetchRequest(MessageSummaryItems.UniqueId | MessageSummaryItems.Flags), ct);
                candidates.AddRange(items.Select(i => (folder.Name, i.UniqueId.Id, i.Flags ?? MessageFlags.None, (IReadOnlyList<string>)[.. i.Keywords])));
            }
            await f.CloseAsync(false, ct);
        }
        candidates.Sort((a, b) => a.Folder != b.Folder ? string.CompareOrdinal(a.Folder, b.Folder) : a.Uid.CompareTo(b.Uid));
        var rnd = new Random(seed);
        var picked = candidates.OrderBy(_ => rnd.Next()).Take(Math.Min(flagChanges, candidates.Count)).ToList();
        var n = 0;
        foreach (var byFolder in picked.GroupBy(p => p.Folder))
        {
            var f = await client.GetFolderAsync(byFolder.Key, ct);
            await f.OpenAsync(FolderAccess.ReadWrite, ct);
            foreach (var m in byFolder)
            {
                var flags = m.Flags & ~MessageFlags.Recent;
                var keywords = new HashSet<string>(m.Keywords, StringComparer.OrdinalIgnoreCase);
                switch (n++ % 4)
                {
                    case 0: flags ^= MessageFlags.Seen; break;
                    case 1: flags |= MessageFlags.Flagged | MessageFlags.Answered; break;
                    case 2: keywords.Add("$Label2"); keywords.Add("Urgent"); break;
                    default:
                        if (keywords.Count > 0) keywords.Clear(); else keywords.Add("$Forwarded");
                        break;
                }
                await f.StoreAsync(new UniqueId(m.Uid), new StoreFlagsRequest(StoreAction.Set, flags, keywords) { Silent = true }, ct);
            }
            await f.CloseAsync(false, ct);
        }
        await client.DisconnectAsync(true, ct);
        await SeedAsync(port, user, [], additions, ct);
    }

    // ------------------------------------------------------------------ snapshot

    public static async Task<List<(string Name, bool Selectable)>> ListAsync(ImapClient client, CancellationToken ct)
    {
        var list = new List<(string, bool)>();
        foreach (var f in await client.GetFoldersAsync(client.PersonalNamespaces[0], cancellationToken: ct))
        {
            var selectable = (f.Attributes & (FolderAttributes.NoSelect | FolderAttributes.NonExistent)) == 0;
            list.Add((f.FullName, selectable));
        }
        return list;
    }

    /// <summary>
    /// Reads every folder read-only (EXAMINE): UID, FLAGS, INTERNALDATE, RFC822.SIZE and Message-ID
    /// of all messages, and the SHA-256 of the raw bytes (BODY.PEEK[], no normalisation) of every
    /// message the cache does not know. Large messages are hashed in 4 MB partial fetches, so the
    /// bench never holds a whole big message in memory.
    /// </summary>
    public static async Task<MailboxState> SnapshotAsync(int port, string user, HashCache cache, CancellationToken ct)
    {
        using var client = await ConnectAsync(port, user, ct);
        var state = new MailboxState();
        foreach (var (name, selectable) in await ListAsync(client, ct))
        {
            if (!selectable)
            {
                state.Folders[name] = new FolderState(name, 0, false, []);
                continue;
            }
            var folder = (ImapFolder)await client.GetFolderAsync(name, ct);
            await folder.OpenAsync(FolderAccess.ReadOnly, ct);
            var validity = folder.UidValidity;
            var messages = new List<MessageState>();
            if (folder.Count > 0)
            {
                var items = await folder.FetchAsync(0, -1, new FetchRequest(
                    MessageSummaryItems.UniqueId | MessageSummaryItems.Flags | MessageSummaryItems.InternalDate | MessageSummaryItems.Size,
                    [HeaderId.MessageId]), ct);
                var hashes = new Dictionary<uint, string>();
                var smallMissing = new List<UniqueId>();
                foreach (var item in items)
                {
                    if (cache.TryGet(name, validity, item.UniqueId.Id, out var known) && known.Size == (item.Size is { } sz ? sz : -1))
                        hashes[item.UniqueId.Id] = known.Sha;
                    else if ((item.Size ?? 0u) > ChunkBytes)
                        hashes[item.UniqueId.Id] = await HashChunkedAsync(folder, item.UniqueId, ct);
                    else
                        smallMissing.Add(item.UniqueId);
                }
                foreach (var chunk in smallMissing.Chunk(200))
                {
                    await folder.GetStreamsAsync(chunk, async (_, _, uid, stream, token) =>
                    {
                        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                        var buffer = new byte[81920];
                        int read;
                        while ((read = await stream.ReadAsync(buffer, token)) > 0) sha.AppendData(buffer, 0, read);
                        hashes[uid.Id] = Convert.ToHexString(sha.GetHashAndReset());
                    }, ct);
                }
                foreach (var item in items)
                {
                    var sha = hashes.TryGetValue(item.UniqueId.Id, out var h) ? h : "MISSING-BODY";
                    var size = item.Size is { } sz ? (long)sz : -1;
                    cache.Set(name, validity, item.UniqueId.Id, sha, size);
                    messages.Add(new MessageState(
                        item.UniqueId.Id, sha, size, (item.Flags ?? MessageFlags.None) & ~MessageFlags.Recent,
                        [.. item.Keywords.Select(k => k.ToLowerInvariant()).Order(StringComparer.Ordinal)],
                        item.InternalDate ?? DateTimeOffset.MinValue,
                        item.Headers?[HeaderId.MessageId]?.Trim()));
                }
            }
            state.Folders[name] = new FolderState(name, validity, true, messages);
            await folder.CloseAsync(false, ct);
        }
        await client.DisconnectAsync(true, ct);
        return state;
    }

    /// <summary>
    /// Why two copies of a message differ: the header lines one has and the other lacks
    /// (BODY.PEEK[HEADER] of both), or "same header, body differs".
    /// </summary>
    public static async Task<string> ExplainDifferenceAsync(
        int port, string expectedUser, string actualUser, string folder, uint expectedUid, uint actualUid, CancellationToken ct)
    {
        async Task<List<string>> HeaderLinesAsync(string user, uint uid)
        {
            using var client = await ConnectAsync(port, user, ct);
            var f = await client.GetFolderAsync(folder, ct);
            await f.OpenAsync(FolderAccess.ReadOnly, ct);
            var headers = await f.GetHeadersAsync(new UniqueId(uid), ct);
            await client.DisconnectAsync(true, ct);
            return [.. headers.Select(h => h.Field + ": " + h.Value.Trim())];
        }
        var expected = await HeaderLinesAsync(expectedUser, expectedUid);
        var actual = await HeaderLinesAsync(actualUser, actualUid);
        var added = actual.Except(expected).ToList();
        var removed = expected.Except(actual).ToList();
        if (added.Count == 0 && removed.Count == 0) return "same header lines, body or header order differs";
        static string Short(string s) => s.Length > 80 ? s[..80] + "…" : s;
        var parts = new List<string>();
        if (added.Count > 0) parts.Add("target adds header " + string.Join(", ", added.Take(3).Select(Short)));
        if (removed.Count > 0) parts.Add("target lacks header " + string.Join(", ", removed.Take(3).Select(Short)));
        return string.Join("; ", parts);
    }

    private static async Task<string> HashChunkedAsync(IMailFolder folder, UniqueId uid, CancellationToken ct)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[81920];
        for (var offset = 0; ; offset += ChunkBytes)
        {
            await using var stream = await folder.GetStreamAsync(uid, offset, ChunkBytes, ct);
            long got = 0;
            int read;
            while ((read = await stream.ReadAsync(buffer, ct)) > 0)
            {
                sha.AppendData(buffer, 0, read);
                got += read;
            }
            if (got < ChunkBytes) break;
        }
        return Convert.ToHexString(sha.GetHashAndReset());
    }
}
