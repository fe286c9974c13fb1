using MailKit;
using MailKit.Net.Imap;
using MailKit.Search;
using MailSync.Core.Model;
using MailSync.Core.Resilience;
using MimeKit;

namespace MailSync.Core.Stores.Imap;

/// <summary>
/// One IMAP connection used as a source or a target. The only place that touches MailKit's
/// <see cref="ImapClient"/>; like it, not thread-safe.
/// </summary>
public sealed class ImapStore(MailEndpoint endpoint) : ISyncSide
{
    /// <summary>
    /// What a summary holds. The Message-ID comes from the raw header line (BODY.PEEK[HEADER.FIELDS
    /// (MESSAGE-ID)]), not from ENVELOPE: that is the server's own parse of every address and the
    /// subject, which some servers send as literals MailKit will not read past 4 KiB (Cyrus, for a
    /// message with a 130 KB header), and which identity does not need.
    /// </summary>
    private static FetchRequest SummaryRequest => new(
        MessageSummaryItems.UniqueId | MessageSummaryItems.Size | MessageSummaryItems.InternalDate | MessageSummaryItems.Flags)
    {
        Headers = new HeaderSet([HeaderId.MessageId]),
    };

    private readonly ImapReplyRecorder _recorder = new();
    private SpoolingImapClient? _client;
    private IMailFolder? _current;
    private (string Name, bool ForWriting, uint UidValidity)? _opened;
    private NamespaceInfo? _namespace;
    private HashSet<string> _listed = new(StringComparer.Ordinal);

    public MailEndpoint Endpoint { get; } = endpoint;

    /// <summary>Fetched messages larger than this are written to a temporary file instead of memory.</summary>
    public long SpoolToDiskAbove { get; init; } = MessageSpool.DefaultSpoolToDiskAbove;

    public NamespaceInfo Namespace => _namespace ?? throw new InvalidOperationException("not connected");

    /// <summary>The server announces MULTIAPPEND, so a batch is one atomic command.</summary>
    public bool SupportsMultiAppend => (Client.Capabilities & ImapCapabilities.MultiAppend) != 0;

    // Not connected (a failure dropped the connection) is transient by nature: reconnecting fixes it.
    private SpoolingImapClient Client => _client ?? throw new ServiceNotConnectedException($"{Endpoint}: not connected");

    public bool IsConnected => _client is { IsConnected: true };

    public bool TakesBinary => (Client.Capabilities & ImapCapabilities.Binary) != 0 && Client.Wire is not null;

    public Task ConnectAsync(CancellationToken cancellationToken)
    {
        _opened = null;
        return ConnectCoreAsync(cancellationToken);
    }

    private async Task ConnectCoreAsync(CancellationToken cancellationToken)
    {
        Break();
        try
        {
            _recorder.Clear();
            _client = await ImapConnector.ConnectAsync(Endpoint, _recorder, SpoolToDiskAbove, cancellationToken).ConfigureAwait(false);
        }
        catch (StoreConnectException ex)
        {
            // Refused connections and "[UNAVAILABLE] try later" logins are worth another attempt;
            // a wrong password, a bad certificate or a host that does not resolve are not.
            var cause = FailureClassifier.Classify(ex.InnerException ?? ex, _recorder.LastRefusal);
            if (cause.Kind == FailureKind.Transient && ex.Failure is StoreConnectFailure.Unreachable or StoreConnectFailure.Authentication or StoreConnectFailure.Other)
                throw new StoreFailureException(cause with { Reason = ex.Message }, ex);
            throw;
        }

        var personal = _client.PersonalNamespaces.Count > 0 ? _client.PersonalNamespaces[0] : null;
        var delimiter = personal?.DirectorySeparator ?? _client.Inbox.DirectorySeparator;
        var prefix = personal?.Path ?? string.Empty;
        // MailKit drops the trailing delimiter of "INBOX."; folder names carry it, so keep it.
        if (prefix.Length > 0 && delimiter != '\0' && prefix[^1] != delimiter)
            prefix += delimiter;
        _namespace = new NamespaceInfo(prefix, delimiter, personal is not null);
    }

    public async Task ReconnectAsync(CancellationToken cancellationToken)
    {
        // _opened survives a failed attempt, so the next one still knows what to re-select.
        var opened = _opened;
        await ConnectCoreAsync(cancellationToken).ConfigureAwait(false);
        if (opened is not { } folder)
            return;
        var status = await OpenFolderAsync(folder.Name, folder.ForWriting, cancellationToken).ConfigureAwait(false);
        if (status.UidValidity != folder.UidValidity)
        {
            throw new StoreFailureException(new FailureClassification(FailureKind.Folder,
                $"{Endpoint}: UIDVALIDITY of \"{folder.Name}\" changed while reconnecting ({folder.UidValidity} -> {status.UidValidity}); the folder is left for the next run, which pairs its messages again"));
        }
    }

    public Task<IReadOnlyList<FolderInfo>> ListFoldersAsync(CancellationToken cancellationToken)
        => GuardAsync(ListFoldersCoreAsync, cancellationToken);

    private async Task<IReadOnlyList<FolderInfo>> ListFoldersCoreAsync(CancellationToken cancellationToken)
    {
        var client = Client;
        var root = client.PersonalNamespaces.Count > 0 ? client.PersonalNamespaces[0] : new FolderNamespace(Namespace.Delimiter, string.Empty);
        // With LIST-STATUS the listing also says which folders changed since the last run, in the
        // same round trip; without it, asking would cost a STATUS per folder, so the engine selects instead.
        var status = (client.Capabilities & ImapCapabilities.ListStatus) == 0
            ? StatusItems.None
            : StatusItems.Count | StatusItems.UidNext | StatusItems.UidValidity
                | ((client.Capabilities & ImapCapabilities.CondStore) != 0 ? StatusItems.HighestModSeq : StatusItems.None);
        var all = await client.GetFoldersAsync(root, status, subscribedOnly: false, cancellationToken).ConfigureAwait(false);
        var subscribed = await client.GetFoldersAsync(root, StatusItems.None, subscribedOnly: true, cancellationToken).ConfigureAwait(false);
        var subscribedNames = subscribed.Select(f => f.FullName).ToHashSet(StringComparer.Ordinal);

        var result = new List<FolderInfo>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        // A server that accepts UTF-8 names may send them raw; any other must encode them.
        var utf8 = (client.Capabilities & (ImapCapabilities.UTF8Accept | ImapCapabilities.UTF8Only)) != 0;
        // An account whose personal namespace is NIL has no INBOX either: only what LIST shows counts.
        foreach (var folder in Namespace.Personal ? all.Prepend(client.Inbox) : all)
        {
            if (!seen.Add(folder.FullName) || (folder.Attributes & FolderAttributes.NonExistent) != 0)
                continue;
            result.Add(new FolderInfo(
                folder.FullName,
                folder.DirectorySeparator,
                RoleOf(folder),
                subscribedNames.Contains(folder.FullName),
                (folder.Attributes & FolderAttributes.NoSelect) == 0,
                CountersOf(folder, status),
                utf8 ? null : GuessedName((folder as SpoolingImapFolder)?.ListedName, folder.FullName)));
        }

        _listed = result.Select(f => f.FullName).ToHashSet(StringComparer.Ordinal);
        return result;
    }

    /// <summary>
    /// The name as listed when MailKit had to guess at it: raw 8-bit bytes (read as UTF-8, else
    /// Latin-1), or an "&amp;" that is no modified UTF-7 (MailKit decodes "inv&amp;AGE" as "inva").
    /// Null for a proper name.
    /// </summary>
    internal static string? GuessedName(string? listed, string fullName)
    {
        if (listed is null)
            return null;
        if (listed.Any(c => c > '\u007F'))
            return listed;
        return listed != fullName && listed.Contains('&') && !fullName.Any(c => c > '\u007F') && fullName != listed.Replace("&-", "&", StringComparison.Ordinal) ? listed : null;
    }

    private static FolderCounters? CountersOf(IMailFolder folder, StatusItems asked)
    {
        // INBOX comes from the client, not the listing, and a \Noselect folder has no status.
        // An absurd count (past maxMessagesPerFolder, or past 2^31 and read as negative) is not
        // trusted as "unchanged": the folder is opened, where the same count stops that folder alone.
        if (asked == StatusItems.None || folder.UidValidity == 0 || folder.UidNext is not { } uidNext || folder.Count < 0)
            return null;
        return new FolderCounters(folder.UidValidity, uidNext.Id, (asked & StatusItems.HighestModSeq) != 0 ? folder.HighestModSeq : null, folder.Count);
    }

    public Task<FolderStatus> OpenFolderAsync(string fullName, bool forWriting, CancellationToken cancellationToken)
        => GuardAsync(ct => OpenFolderCoreAsync(fullName, forWriting, ct), cancellationToken);

    private async Task<FolderStatus> OpenFolderCoreAsync(string fullName, bool forWriting, CancellationToken cancellationToken)
    {
        var folder = await GetFolderAsync(fullName, cancellationToken).ConfigureAwait(false);
        if (_current is not null && _current != folder && _current.IsOpen)
            await _current.CloseAsync(expunge: false, cancellationToken).ConfigureAwait(false);
        await folder.OpenAsync(forWriting ? FolderAccess.ReadWrite : FolderAccess.ReadOnly, cancellationToken).ConfigureAwait(false);
        _current = folder;
        _opened = (fullName, forWriting, folder.UidValidity);

        var limits = Endpoint.Limits ?? ServerLimits.Default;
        if (folder.Count < 0 || folder.Count > limits.MessagesPerFolder)
        {
            // MailKit keeps the count as an int: 4294967295 arrives as -1. Said as the server said it.
            throw new ServerMisbehavedException(
                $"{Endpoint}: the server says {ServerText.Escape(fullName)} holds {(uint)folder.Count:N0} messages, more than maxMessagesPerFolder ({limits.MessagesPerFolder:N0}); raise it in the account if the folder really holds that many");
        }

        var uidNext = folder.UidNext?.Id ?? await ComputeUidNextAsync(folder, cancellationToken).ConfigureAwait(false);
        var condStore = (Client.Capabilities & ImapCapabilities.CondStore) != 0;
        return new FolderStatus(
            folder.FullName,
            folder.UidValidity,
            uidNext,
            condStore ? folder.HighestModSeq : null,
            folder.Count,
            folder.PermanentFlags,
            (folder.PermanentFlags & MessageFlags.UserDefined) != 0,
            new HashSet<string>(folder.PermanentKeywords, StringComparer.OrdinalIgnoreCase));
    }

    public Task<IReadOnlyList<MessageInfo>> FetchSummariesAsync(uint fromUid, CancellationToken cancellationToken)
        => GuardAsync(ct => FetchSummariesCoreAsync(fromUid, ct), cancellationToken);

    private async Task<IReadOnlyList<MessageInfo>> FetchSummariesCoreAsync(uint fromUid, CancellationToken cancellationToken)
    {
        var folder = CurrentFolder;
        if (folder.Count == 0)
            return [];
        var range = new UniqueIdRange(new UniqueId(folder.UidValidity, Math.Max(1, fromUid)), UniqueId.MaxValue);
        var fetched = await folder.FetchAsync(range, SummaryRequest, cancellationToken).ConfigureAwait(false);
        // "n:*" always includes the highest UID, even when it is below n.
        return fetched.Where(item => item.UniqueId.Id >= fromUid).Select(ToMessageInfo).ToList();
    }

    public Task<IReadOnlyList<MessageInfo>> FetchSummariesAsync(IReadOnlyList<uint> uids, CancellationToken cancellationToken)
        => GuardAsync<IReadOnlyList<MessageInfo>>(async ct =>
        {
            var folder = CurrentFolder;
            if (folder.Count == 0 || uids.Count == 0)
                return [];
            var ids = uids.Select(u => new UniqueId(folder.UidValidity, u)).ToList();
            var fetched = await folder.FetchAsync(ids, SummaryRequest, ct).ConfigureAwait(false);
            return fetched.Select(ToMessageInfo).ToList();
        }, cancellationToken);

    public Task<IReadOnlyDictionary<uint, string>> FetchHeaderHashesAsync(IReadOnlyList<uint> uids, CancellationToken cancellationToken)
        => GuardAsync<IReadOnlyDictionary<uint, string>>(async ct =>
        {
            var folder = CurrentFolder;
            if (folder.Count == 0 || uids.Count == 0)
                return new Dictionary<uint, string>();
            var ids = uids.Select(u => new UniqueId(folder.UidValidity, u)).ToList();
            var fetched = await folder.FetchAsync(ids, MessageSummaryItems.UniqueId | MessageSummaryItems.Headers, ct).ConfigureAwait(false);
            return fetched.Where(f => f.Headers is not null).ToDictionary(f => f.UniqueId.Id, f => RawMessage.HashOf(f.Headers!));
        }, cancellationToken);

    private static MessageInfo ToMessageInfo(IMessageSummary item) => new(
        item.UniqueId.Id,
        (long)(item.Size ?? 0),
        item.InternalDate ?? DateTimeOffset.UnixEpoch,
        (item.Flags ?? MessageFlags.None) & ~MessageFlags.Recent,
        item.Keywords.ToArray(),
        item.Headers is { } headers ? RawMessage.MessageId(headers) : null);

    public Task<IReadOnlyList<FlagState>> FetchFlagChangesAsync(ulong sinceModSeq, CancellationToken cancellationToken)
        => FetchFlagsAsync(new FetchRequest(MessageSummaryItems.UniqueId | MessageSummaryItems.Flags) { ChangedSince = sinceModSeq }, cancellationToken);

    public Task<IReadOnlyList<FlagState>> FetchAllFlagsAsync(CancellationToken cancellationToken)
        => FetchFlagsAsync(new FetchRequest(MessageSummaryItems.UniqueId | MessageSummaryItems.Flags), cancellationToken);

    private Task<IReadOnlyList<FlagState>> FetchFlagsAsync(FetchRequest request, CancellationToken cancellationToken)
        => GuardAsync<IReadOnlyList<FlagState>>(async ct =>
        {
            var folder = CurrentFolder;
            if (folder.Count == 0)
                return [];
            var fetched = await folder.FetchAsync(UniqueIdRange.All, request, ct).ConfigureAwait(false);
            return fetched.Select(f => new FlagState(f.UniqueId.Id, (f.Flags ?? MessageFlags.None) & ~MessageFlags.Recent, f.Keywords.ToArray())).ToList();
        }, cancellationToken);

    public Task StoreFlagsAsync(IReadOnlyList<uint> uids, FlagChange change, CancellationToken cancellationToken)
        => GuardAsync(async ct =>
        {
            var folder = CurrentFolder;
            var ids = uids.Select(u => new UniqueId(folder.UidValidity, u)).ToList();
            if (change.Add != MessageFlags.None || change.AddKeywords.Count > 0)
                await folder.StoreAsync(ids, new StoreFlagsRequest(StoreAction.Add, change.Add, change.AddKeywords) { Silent = true }, ct).ConfigureAwait(false);
            if (change.Remove != MessageFlags.None || change.RemoveKeywords.Count > 0)
                await folder.StoreAsync(ids, new StoreFlagsRequest(StoreAction.Remove, change.Remove, change.RemoveKeywords) { Silent = true }, ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    public bool CanExpungeByUid => (Client.Capabilities & ImapCapabilities.UidPlus) != 0;

    public Task<IReadOnlyList<uint>> FetchUidsAsync(CancellationToken cancellationToken)
        => GuardAsync<IReadOnlyList<uint>>(async ct =>
        {
            var folder = CurrentFolder;
            if (folder.Count == 0)
                return [];
            var uids = await folder.SearchAsync(SearchQuery.All, ct).ConfigureAwait(false);
            return uids.Select(u => u.Id).ToList();
        }, cancellationToken);

    public Task ExpungeAsync(IReadOnlyList<uint> uids, CancellationToken cancellationToken)
        => GuardAsync(async ct =>
        {
            if (!CanExpungeByUid)
                throw new InvalidOperationException("UID EXPUNGE asked of a server without UIDPLUS");
            var folder = CurrentFolder;
            var ids = uids.Select(u => new UniqueId(folder.UidValidity, u)).ToList();
            await folder.StoreAsync(ids, new StoreFlagsRequest(StoreAction.Add, MessageFlags.Deleted) { Silent = true }, ct).ConfigureAwait(false);
            await folder.ExpungeAsync(ids, ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    public Task<IReadOnlyList<uint?>> MoveAsync(IReadOnlyList<uint> uids, string destination, CancellationToken cancellationToken)
        => GuardAsync<IReadOnlyList<uint?>>(async ct =>
        {
            var folder = CurrentFolder;
            var target = await GetFolderAsync(destination, ct).ConfigureAwait(false);
            var ids = uids.Select(u => new UniqueId(folder.UidValidity, u)).ToList();
            // MailKit sends UID MOVE where offered, else COPY + \Deleted + UID EXPUNGE.
            var map = await folder.MoveToAsync(ids, target, ct).ConfigureAwait(false);
            return ids.Select(id => map.TryGetValue(id, out var moved) ? (uint?)moved.Id : null).ToList();
        }, cancellationToken);

    public Task RenameFolderAsync(string fullName, string newFullName, CancellationToken cancellationToken)
        => GuardAsync(async ct =>
        {
            var folder = await GetFolderAsync(fullName, ct).ConfigureAwait(false);
            await LeaveAsync(folder, ct).ConfigureAwait(false);
            var (parent, name) = await ParentAndNameAsync(newFullName, ct).ConfigureAwait(false);
            await folder.RenameAsync(parent, name, ct).ConfigureAwait(false);
            _listed.Remove(fullName);
            _listed.Add(newFullName);
            return true;
        }, cancellationToken);

    public Task SubscribeAsync(string fullName, CancellationToken cancellationToken)
        => GuardAsync(async ct =>
        {
            var folder = await GetFolderAsync(fullName, ct).ConfigureAwait(false);
            await folder.SubscribeAsync(ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    public Task UnsubscribeAsync(string fullName, CancellationToken cancellationToken)
        => GuardAsync(async ct =>
        {
            try
            {
                var folder = await GetFolderAsync(fullName, ct).ConfigureAwait(false);
                await folder.UnsubscribeAsync(ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is FolderNotFoundException || (ex is ImapCommandException no && no.Response == ImapCommandResponse.No))
            {
                // Not subscribed, or gone: nothing to undo.
            }

            return true;
        }, cancellationToken);

    public Task DeleteFolderAsync(string fullName, CancellationToken cancellationToken)
        => GuardAsync(async ct =>
        {
            var folder = await GetFolderAsync(fullName, ct).ConfigureAwait(false);
            await LeaveAsync(folder, ct).ConfigureAwait(false);
            try
            {
                await folder.UnsubscribeAsync(ct).ConfigureAwait(false);
            }
            catch (ImapCommandException)
            {
                // Not subscribed: nothing to undo.
            }

            await folder.DeleteAsync(ct).ConfigureAwait(false);
            _listed.Remove(fullName);
            return true;
        }, cancellationToken);

    public Task ReadMessagesAsync(IReadOnlyList<uint> uids, Func<uint, Stream, CancellationToken, Task> onMessage, CancellationToken cancellationToken)
        => GuardAsync(async ct =>
        {
            var folder = (ImapFolder)CurrentFolder;
            var ids = uids.Select(u => new UniqueId(folder.UidValidity, u)).ToList();
            await folder.GetStreamsAsync(ids, (_, _, uid, stream, token) => onMessage(uid.Id, stream, token), ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    public Task EnsureFolderAsync(string fullName, bool subscribe, SpecialUse role, CancellationToken cancellationToken)
        => GuardAsync(async ct =>
        {
            await EnsureFolderCoreAsync(fullName, subscribe, role, ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    private async Task EnsureFolderCoreAsync(string fullName, bool subscribe, SpecialUse role, CancellationToken cancellationToken)
    {
        IMailFolder? folder = null;
        // Only a folder the last listing showed is looked up: MailKit also hands back a folder that
        // is merely still subscribed (Dovecot keeps the subscription of a deleted folder), and that
        // one must be created again.
        if (_listed.Contains(fullName) || string.Equals(fullName, "INBOX", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                folder = await GetFolderAsync(fullName, cancellationToken).ConfigureAwait(false);
            }
            catch (FolderNotFoundException)
            {
            }
        }

        if (folder is null)
        {
            var (parent, name) = await ParentAndNameAsync(fullName, cancellationToken).ConfigureAwait(false);
            folder = await CreateAsync(parent, name, role, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"the server did not create \"{fullName}\"");
            _listed.Add(fullName);
        }

        if (subscribe)
            await folder.SubscribeAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The folder a full name lives in (the namespace's root for a top-level name) and its last
    /// segment: what MailKit's CREATE and RENAME take. The parent must exist.
    /// </summary>
    private async Task<(IMailFolder Parent, string Name)> ParentAndNameAsync(string fullName, CancellationToken cancellationToken)
    {
        var delimiter = Namespace.Delimiter;
        var cut = delimiter == '\0' ? -1 : fullName.LastIndexOf(delimiter);
        var isTopLevel = cut < 0 || fullName[..(cut + 1)] == Namespace.Prefix;
        var parent = isTopLevel
            ? Client.GetFolder(Client.PersonalNamespaces.Count > 0 ? Client.PersonalNamespaces[0] : throw new InvalidOperationException("the account has no personal namespace"))
            : await GetFolderAsync(fullName[..cut], cancellationToken).ConfigureAwait(false);
        return (parent, isTopLevel ? fullName[Namespace.Prefix.Length..] : fullName[(cut + 1)..]);
    }

    /// <summary>Closes <paramref name="folder"/> if it is the open one (before it is renamed or deleted), so a reconnect does not re-select it.</summary>
    private async Task LeaveAsync(IMailFolder folder, CancellationToken cancellationToken)
    {
        if (folder != _current)
            return;
        if (folder.IsOpen)
            await folder.CloseAsync(expunge: false, cancellationToken).ConfigureAwait(false);
        _current = null;
        _opened = null;
    }

    /// <summary>
    /// CREATE, with the role as special-use where the server takes it (CREATE-SPECIAL-USE). A
    /// server that refuses the attribute (RFC 6154's [USEATTR]: another folder has it already)
    /// still gets the folder, plain.
    /// </summary>
    private async Task<IMailFolder?> CreateAsync(IMailFolder parent, string name, SpecialUse role, CancellationToken cancellationToken)
    {
        if (SpecialFolderOf(role) is { } use && (Client.Capabilities & ImapCapabilities.CreateSpecialUse) != 0)
        {
            try
            {
                return await parent.CreateAsync(name, [use], cancellationToken).ConfigureAwait(false);
            }
            catch (ImapCommandException ex) when (ex.Response == ImapCommandResponse.No)
            {
                // Created below without the attribute.
            }
        }

        return await parent.CreateAsync(name, isMessageFolder: true, cancellationToken).ConfigureAwait(false);
    }

    private static SpecialFolder? SpecialFolderOf(SpecialUse role) => role switch
    {
        SpecialUse.Sent => SpecialFolder.Sent,
        SpecialUse.Drafts => SpecialFolder.Drafts,
        SpecialUse.Trash => SpecialFolder.Trash,
        SpecialUse.Junk => SpecialFolder.Junk,
        SpecialUse.Archive => SpecialFolder.Archive,
        SpecialUse.All => SpecialFolder.All,
        SpecialUse.Flagged => SpecialFolder.Flagged,
        SpecialUse.Important => SpecialFolder.Important,
        _ => null,
    };

    public Task<IReadOnlyList<uint?>> AppendAsync(string folderName, IReadOnlyList<AppendItem> items, CancellationToken cancellationToken)
        => GuardAsync(ct => AppendCoreAsync(folderName, items, ct), cancellationToken);

    private async Task<IReadOnlyList<uint?>> AppendCoreAsync(string folderName, IReadOnlyList<AppendItem> items, CancellationToken cancellationToken)
    {
        var folder = await GetFolderAsync(folderName, cancellationToken).ConfigureAwait(false);
        var options = FormatOptions.Default;
        try
        {
            // A binary message goes alone: its literal is the one literal of its command, so the
            // wire turns the right one into "~{n}".
            if (items.Count > 1 && SupportsMultiAppend && !items.Any(i => i.Binary))
            {
                var uids = await folder.AppendAsync(options, items.Select(Request).ToList(), cancellationToken).ConfigureAwait(false);
                return uids.Count == items.Count ? uids.Select(u => (uint?)u.Id).ToList() : items.Select(_ => (uint?)null).ToList();
            }

            var result = new List<uint?>(items.Count);
            foreach (var item in items)
                result.Add(await AppendOneAsync(folder, options, item, cancellationToken).ConfigureAwait(false));
            return result;
        }
        catch (ImapCommandException ex) when (ex.Response is ImapCommandResponse.No or ImapCommandResponse.Bad
            && FailureClassifier.Classify(ex, _recorder.LastRefusal).Kind == FailureKind.Message)
        {
            // The server stored nothing and says why about this message: record it, go on.
            throw new TargetRefusedException(string.IsNullOrEmpty(ex.ResponseText) ? ex.Message : ex.ResponseText, ex);
        }
    }

    private async Task<uint?> AppendOneAsync(IMailFolder folder, FormatOptions options, AppendItem item, CancellationToken cancellationToken)
    {
        if (!item.Binary)
            return (await folder.AppendAsync(options, Request(item), cancellationToken).ConfigureAwait(false))?.Id;
        if (!TakesBinary)
            throw new InvalidOperationException("a binary literal was asked of a server without BINARY");
        var wire = Client.Wire!;
        wire.ExpectBinaryLiteral(item.Size);
        try
        {
            return (await folder.AppendAsync(options, Request(item), cancellationToken).ConfigureAwait(false))?.Id;
        }
        finally
        {
            wire.ClearBinaryLiterals();
        }
    }

    private static IAppendRequest Request(AppendItem item) => new AppendRequest(item.Message, item.Flags, item.Keywords, item.InternalDate);

    public async ValueTask DisposeAsync()
    {
        if (_client is null)
            return;
        try
        {
            if (_client.IsConnected)
                await _client.DisconnectAsync(quit: true).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ImapProtocolException or TimeoutException or ServiceNotConnectedException)
        {
            // Closing a broken connection: nothing left to save.
        }
        finally
        {
            _client.Dispose();
            _client = null;
        }
    }

    /// <summary>
    /// Runs one store command and turns any failure into a <see cref="StoreFailureException"/>
    /// classified with the server's last refusal line. A failure that leaves the connection in
    /// doubt drops it, so the caller's retry reconnects instead of talking into a broken session.
    /// </summary>
    private async Task<T> GuardAsync<T>(Func<CancellationToken, Task<T>> command, CancellationToken cancellationToken)
    {
        _recorder.Clear();
        // No deadline here: the wire under MailKit gives every command one that grows with the
        // bytes it actually moves (ImapResponseGuard), never with a size the server announced.
        try
        {
            return await command(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not StoreFailureException and not TargetRefusedException)
        {
            var cause = FailureClassifier.Classify(ex, _recorder.LastRefusal);
            if (cause.Kind == FailureKind.Transient || _client is not { IsConnected: true })
                Break();
            // A protocol violation names its server already (ServerMisbehavedException's contract).
            throw new StoreFailureException(ex is ServerMisbehavedException ? cause : cause with { Reason = $"{Endpoint}: {cause.Reason}" }, ex);
        }
    }

    /// <summary>Forgets a connection without a LOGOUT: it failed, or it is about to be replaced.</summary>
    private void Break()
    {
        _client?.Dispose();
        _client = null;
        _current = null;
    }

    private IMailFolder CurrentFolder => _current ?? throw new InvalidOperationException("no folder is open");

    private async Task<IMailFolder> GetFolderAsync(string fullName, CancellationToken cancellationToken)
    {
        if (string.Equals(fullName, "INBOX", StringComparison.OrdinalIgnoreCase))
            return Client.Inbox;
        return await Client.GetFolderAsync(fullName, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<uint> ComputeUidNextAsync(IMailFolder folder, CancellationToken cancellationToken)
    {
        if (folder.Count == 0)
            return 1;
        var all = await folder.SearchAsync(SearchQuery.All, cancellationToken).ConfigureAwait(false);
        return all.Count == 0 ? 1 : all.Max(u => u.Id) + 1;
    }

    private static SpecialUse RoleOf(IMailFolder folder)
    {
        var a = folder.Attributes;
        if (folder.FullName.Equals("INBOX", StringComparison.OrdinalIgnoreCase) || (a & FolderAttributes.Inbox) != 0)
            return SpecialUse.Inbox;
        if ((a & FolderAttributes.Sent) != 0) return SpecialUse.Sent;
        if ((a & FolderAttributes.Drafts) != 0) return SpecialUse.Drafts;
        if ((a & FolderAttributes.Trash) != 0) return SpecialUse.Trash;
        if ((a & FolderAttributes.Junk) != 0) return SpecialUse.Junk;
        if ((a & FolderAttributes.Archive) != 0) return SpecialUse.Archive;
        if ((a & FolderAttributes.All) != 0) return SpecialUse.All;
        if ((a & FolderAttributes.Flagged) != 0) return SpecialUse.Flagged;
        if ((a & FolderAttributes.Important) != 0) return SpecialUse.Important;
        return SpecialUse.None;
    }
}
