using MailKit;
using MailSync.Core.Model;
using MailSync.Core.Stores;
using MimeKit;

namespace MailSync.Engine.Tests;

/// <summary>
/// One connection to an <see cref="InMemoryServer"/>, as source or target: the contract of
/// <see cref="IMessageSource"/> and <see cref="IMessageTarget"/> without a network. It offers what
/// Dovecot does (LIST-STATUS counters, CONDSTORE, UIDPLUS, MOVE, MULTIAPPEND, BINARY, any keyword).
/// Every change goes through the server's <see cref="Faults"/>.
/// </summary>
public sealed class InMemoryStore(InMemoryServer server) : ISyncSide
{
    private InMemoryServer.Folder? _current;

    public NamespaceInfo Namespace { get; } = new("", '/');

    public bool IsConnected { get; private set; }

    public bool TakesBinary => true;

    public Task ConnectAsync(CancellationToken cancellationToken)
    {
        server.Faults.Check();
        IsConnected = true;
        return Task.CompletedTask;
    }

    public Task ReconnectAsync(CancellationToken cancellationToken) => ConnectAsync(cancellationToken);

    public Task<IReadOnlyList<FolderInfo>> ListFoldersAsync(CancellationToken cancellationToken)
    {
        server.Faults.Check();
        IReadOnlyList<FolderInfo> folders = [.. server.Folders.Values.Select(f => new FolderInfo(
            f.Path, '/', f.Path == "INBOX" ? SpecialUse.Inbox : f.Role, f.Subscribed, true,
            new FolderCounters(f.UidValidity, f.UidNext, f.HighestModSeq, f.Messages.Count)))];
        return Task.FromResult(folders);
    }

    public Task<FolderStatus> OpenFolderAsync(string fullName, bool forWriting, CancellationToken cancellationToken)
    {
        server.Faults.Check();
        _current = server.Folders.TryGetValue(fullName, out var folder)
            ? folder
            : throw new StoreFailureException(new Core.Resilience.FailureClassification(Core.Resilience.FailureKind.Folder, $"{server.Name}: no folder {fullName}"));
        return Task.FromResult(new FolderStatus(folder.Path, folder.UidValidity, folder.UidNext, folder.HighestModSeq, folder.Messages.Count,
            MessageFlags.Seen | MessageFlags.Answered | MessageFlags.Flagged | MessageFlags.Deleted | MessageFlags.Draft | MessageFlags.UserDefined,
            true, new HashSet<string>(StringComparer.OrdinalIgnoreCase)));
    }

    public Task<IReadOnlyList<MessageInfo>> FetchSummariesAsync(uint fromUid, CancellationToken cancellationToken)
        => Summaries(m => m.Uid >= fromUid);

    public Task<IReadOnlyList<MessageInfo>> FetchSummariesAsync(IReadOnlyList<uint> uids, CancellationToken cancellationToken)
        => Summaries(m => uids.Contains(m.Uid));

    public Task<IReadOnlyDictionary<uint, string>> FetchHeaderHashesAsync(IReadOnlyList<uint> uids, CancellationToken cancellationToken)
    {
        server.Faults.Check();
        IReadOnlyDictionary<uint, string> hashes = Current.Messages.Where(m => uids.Contains(m.Uid)).ToDictionary(m => m.Uid, m =>
        {
            using var bytes = new MemoryStream(m.Bytes, writable: false);
            return RawMessage.HashOf(RawMessage.ReadHeaders(bytes));
        });
        return Task.FromResult(hashes);
    }

    public async Task ReadMessagesAsync(IReadOnlyList<uint> uids, Func<uint, Stream, CancellationToken, Task> onMessage, CancellationToken cancellationToken)
    {
        foreach (var message in Current.Messages.Where(m => uids.Contains(m.Uid)).ToList())
        {
            server.Faults.Check();
            using var stream = new MemoryStream(message.Bytes, writable: false);
            await onMessage(message.Uid, stream, cancellationToken);
        }
    }

    public Task<IReadOnlyList<FlagState>> FetchFlagChangesAsync(ulong sinceModSeq, CancellationToken cancellationToken)
        => Flags(m => m.ModSeq > sinceModSeq);

    public Task<IReadOnlyList<FlagState>> FetchAllFlagsAsync(CancellationToken cancellationToken) => Flags(_ => true);

    public Task EnsureFolderAsync(string fullName, bool subscribe, SpecialUse role, CancellationToken cancellationToken)
    {
        server.Faults.Check();
        if (!server.Folders.ContainsKey(fullName))
            server.Faults.SideEffect($"CREATE {fullName}", () => server.Add(fullName, role, subscribed: false));
        if (subscribe && !server.Folders[fullName].Subscribed)
            server.Faults.SideEffect($"SUBSCRIBE {fullName}", () => server.Folders[fullName].Subscribed = true);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<uint?>> AppendAsync(string folder, IReadOnlyList<AppendItem> items, CancellationToken cancellationToken)
    {
        server.Faults.Check();
        var target = server.Folders[folder];
        // Rendered outside the side effect, as MailKit measures and writes the literal.
        var rendered = items.Select(Render).ToList();
        IReadOnlyList<uint?> uids = server.Faults.SideEffect($"APPEND {items.Count} to {folder}", () =>
        {
            // MULTIAPPEND is all or nothing: one refused message refuses the command.
            if (server.RefuseContaining is { } marker && rendered.Any(r => System.Text.Encoding.Latin1.GetString(r).Contains(marker, StringComparison.Ordinal)))
                throw new TargetRefusedException($"[LIMIT] {server.Name} does not take messages with {marker}");
            if (server.RefuseBareLineFeeds && rendered.Any(r => r.Where((b, i) => b == '\n' && (i == 0 || r[i - 1] != '\r')).Any()))
                throw new TargetRefusedException("Message contains bare newlines");
            var assigned = items.Select((item, i) => target.Append(rendered[i], item.Flags, item.Keywords, item.InternalDate)).ToList();
            return assigned.Select(uid => server.UidPlus ? (uint?)uid : null).ToList();
        });
        return Task.FromResult(uids);
    }

    public Task StoreFlagsAsync(IReadOnlyList<uint> uids, FlagChange change, CancellationToken cancellationToken)
    {
        server.Faults.Check();
        var folder = Current;
        server.Faults.SideEffect($"STORE {uids.Count} in {folder.Path}", () =>
        {
            foreach (var message in folder.Messages.Where(m => uids.Contains(m.Uid)))
            {
                var keywords = message.Keywords.Union(change.AddKeywords, StringComparer.OrdinalIgnoreCase).Except(change.RemoveKeywords, StringComparer.OrdinalIgnoreCase);
                folder.SetFlags(message.Uid, (message.Flags | change.Add) & ~change.Remove, keywords);
            }

            return true;
        });
        return Task.CompletedTask;
    }

    public bool CanExpungeByUid => server.UidPlus;

    public Task<IReadOnlyList<uint>> FetchUidsAsync(CancellationToken cancellationToken)
    {
        server.Faults.Check();
        IReadOnlyList<uint> uids = [.. Current.Messages.Select(m => m.Uid)];
        return Task.FromResult(uids);
    }

    public Task ExpungeAsync(IReadOnlyList<uint> uids, CancellationToken cancellationToken)
    {
        server.Faults.Check();
        var folder = Current;
        // Two commands, as on IMAP: an interruption between them leaves the copies marked \Deleted.
        MarkDeleted(folder, uids);
        server.Faults.SideEffect($"UID EXPUNGE {uids.Count} in {folder.Path}", () => folder.Expunge(uids));
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<uint?>> MoveAsync(IReadOnlyList<uint> uids, string destination, CancellationToken cancellationToken)
    {
        server.Faults.Check();
        var folder = Current;
        var target = server.Folders[destination];
        List<uint?> Copy()
        {
            var result = new List<uint?>();
            foreach (var uid in uids)
            {
                var message = folder.Messages.Single(m => m.Uid == uid);
                var assigned = target.Append(message.Bytes, message.Flags, message.Keywords, message.Date);
                result.Add(server.UidPlus ? assigned : null);
            }

            return result;
        }

        if (!server.Move)
        {
            // What MailKit does without MOVE: UID COPY, \Deleted, UID EXPUNGE, each a side effect of its own.
            var copied = server.Faults.SideEffect($"UID COPY {uids.Count} from {folder.Path} to {destination}", Copy);
            MarkDeleted(folder, uids);
            server.Faults.SideEffect($"UID EXPUNGE {uids.Count} in {folder.Path}", () => folder.Expunge(uids));
            return Task.FromResult<IReadOnlyList<uint?>>(copied);
        }

        IReadOnlyList<uint?> moved = server.Faults.SideEffect($"UID MOVE {uids.Count} from {folder.Path} to {destination}", () =>
        {
            var result = Copy();
            folder.Expunge(uids);
            return result;
        });
        return Task.FromResult(moved);
    }

    private void MarkDeleted(InMemoryServer.Folder folder, IReadOnlyList<uint> uids)
        => server.Faults.SideEffect($"UID STORE {uids.Count} +FLAGS (\\Deleted) in {folder.Path}", () =>
        {
            foreach (var message in folder.Messages.Where(m => uids.Contains(m.Uid)).ToList())
                folder.SetFlags(message.Uid, message.Flags | MessageFlags.Deleted, message.Keywords);
            return true;
        });

    public Task RenameFolderAsync(string fullName, string newFullName, CancellationToken cancellationToken)
    {
        server.Faults.Check();
        server.Faults.SideEffect($"RENAME {fullName} {newFullName}", () => server.Rename(fullName, newFullName));
        if (_current?.Path == fullName)
            _current = null;
        return Task.CompletedTask;
    }

    public Task SubscribeAsync(string fullName, CancellationToken cancellationToken)
    {
        server.Faults.Check();
        if (!server.Folders[fullName].Subscribed)
            server.Faults.SideEffect($"SUBSCRIBE {fullName}", () => server.Folders[fullName].Subscribed = true);
        return Task.CompletedTask;
    }

    public Task UnsubscribeAsync(string fullName, CancellationToken cancellationToken)
    {
        server.Faults.Check();
        if (server.Folders.TryGetValue(fullName, out var gone) && gone.Subscribed)
            server.Faults.SideEffect($"UNSUBSCRIBE {fullName}", () => server.Folders[fullName].Subscribed = false);
        return Task.CompletedTask;
    }

    public Task DeleteFolderAsync(string fullName, CancellationToken cancellationToken)
    {
        server.Faults.Check();
        server.Faults.SideEffect($"DELETE {fullName}", () => server.Folders.Remove(fullName));
        if (_current?.Path == fullName)
            _current = null;
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        IsConnected = false;
        return ValueTask.CompletedTask;
    }

    private InMemoryServer.Folder Current => _current ?? throw new InvalidOperationException("no folder is open");

    private Task<IReadOnlyList<MessageInfo>> Summaries(Func<InMemoryServer.Message, bool> which)
    {
        server.Faults.Check();
        IReadOnlyList<MessageInfo> list = [.. Current.Messages.Where(which).Select(m =>
        {
            using var bytes = new MemoryStream(m.Bytes, writable: false);
            return new MessageInfo(m.Uid, m.Bytes.Length, m.Date, m.Flags, [.. m.Keywords], RawMessage.MessageId(RawMessage.ReadHeaders(bytes)));
        })];
        return Task.FromResult(list);
    }

    private Task<IReadOnlyList<FlagState>> Flags(Func<InMemoryServer.Message, bool> which)
    {
        server.Faults.Check();
        IReadOnlyList<FlagState> list = [.. Current.Messages.Where(which).Select(m => new FlagState(m.Uid, m.Flags, [.. m.Keywords]))];
        return Task.FromResult(list);
    }

    /// <summary>The literal MailKit would send for <paramref name="item"/>, with its APPEND options.</summary>
    private static byte[] Render(AppendItem item)
    {
        var format = FormatOptions.Default.Clone();
        format.NewLineFormat = NewLineFormat.Dos;
        format.EnsureNewLine = true;
        using var output = new MemoryStream();
        item.Message.WriteTo(format, output);
        return output.ToArray();
    }
}
