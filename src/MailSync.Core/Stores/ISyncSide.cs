namespace MailSync.Core.Stores;

/// <summary>
/// A store both read and written by two-way sync: besides reading and appending, it can list the
/// UIDs a folder holds, expunge and move messages, and delete folders. One connection, like
/// every <see cref="IMailStore"/>.
/// </summary>
public interface ISyncSide : IMessageSource, IMessageTarget
{
    /// <summary>
    /// The server can expunge just the given messages (UIDPLUS's UID EXPUNGE). Without it an
    /// EXPUNGE would also remove every other message a user marked \Deleted, so sync deletes nothing there.
    /// </summary>
    bool CanExpungeByUid { get; }

    /// <summary>Every UID of the current folder (UID SEARCH ALL): which messages are gone, without fetching any.</summary>
    Task<IReadOnlyList<uint>> FetchUidsAsync(CancellationToken cancellationToken);

    /// <summary>Marks the given messages of the current folder (open for writing) \Deleted and expunges exactly them (UID EXPUNGE).</summary>
    Task ExpungeAsync(IReadOnlyList<uint> uids, CancellationToken cancellationToken);

    /// <summary>
    /// Moves messages of the current folder (open for writing) into <paramref name="destination"/>
    /// with their flags (UID MOVE, RFC 6851; COPY, \Deleted and UID EXPUNGE without it) and returns
    /// their new UIDs where the server said (COPYUID), else nulls. Any exception leaves the outcome
    /// unknown: the caller looks before moving again.
    /// </summary>
    Task<IReadOnlyList<uint?>> MoveAsync(IReadOnlyList<uint> uids, string destination, CancellationToken cancellationToken);

    /// <summary>Renames a folder (and, as IMAP RENAME does, every folder under it); the new name's parents must exist.</summary>
    Task RenameFolderAsync(string fullName, string newFullName, CancellationToken cancellationToken);

    /// <summary>Subscribes an existing folder (SUBSCRIBE).</summary>
    Task SubscribeAsync(string fullName, CancellationToken cancellationToken);

    /// <summary>Removes a folder's subscription (UNSUBSCRIBE); a name that is not subscribed, or no longer exists, is no error.</summary>
    Task UnsubscribeAsync(string fullName, CancellationToken cancellationToken);

    /// <summary>Deletes a folder (the caller checked that it is empty) and unsubscribes it.</summary>
    Task DeleteFolderAsync(string fullName, CancellationToken cancellationToken);
}
