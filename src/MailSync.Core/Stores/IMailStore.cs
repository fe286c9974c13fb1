using MailSync.Core.Model;
using MailSync.Core.Resilience;

namespace MailSync.Core.Stores;

/// <summary>
/// What the engine needs from any store, source or target. One instance is one connection:
/// implementations are not thread-safe, as MailKit's clients are not.
/// </summary>
public interface IMailStore : IAsyncDisposable
{
    /// <summary>The personal namespace; valid after <see cref="ConnectAsync"/>.</summary>
    NamespaceInfo Namespace { get; }

    Task ConnectAsync(CancellationToken cancellationToken);

    /// <summary>False before connecting and after a failure that broke the connection.</summary>
    bool IsConnected { get; }

    /// <summary>
    /// Connects again after a dropped connection and re-opens the folder that was open, so a retried
    /// command finds the state it expects. A folder whose UIDVALIDITY changed meanwhile is not
    /// re-opened silently: that is a <see cref="FailureKind.Folder"/> failure.
    /// </summary>
    Task ReconnectAsync(CancellationToken cancellationToken);

    Task<IReadOnlyList<FolderInfo>> ListFoldersAsync(CancellationToken cancellationToken);

    /// <summary>Opens a folder (read-only unless <paramref name="forWriting"/>) and makes it the current one.</summary>
    Task<FolderStatus> OpenFolderAsync(string fullName, bool forWriting, CancellationToken cancellationToken);

    /// <summary>Summaries of the current folder's messages with UID &gt;= <paramref name="fromUid"/>, in one batched FETCH.</summary>
    Task<IReadOnlyList<MessageInfo>> FetchSummariesAsync(uint fromUid, CancellationToken cancellationToken);

    /// <summary>
    /// A hash of each given message's header block as the server serves it (BODY.PEEK[HEADER]),
    /// in one FETCH: identifies a message without a Message-ID when date and size alone could
    /// take two messages for each other. A UID the folder no longer has is absent.
    /// </summary>
    Task<IReadOnlyDictionary<uint, string>> FetchHeaderHashesAsync(IReadOnlyList<uint> uids, CancellationToken cancellationToken);
}
