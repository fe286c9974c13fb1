using MailSync.Core.Model;

namespace MailSync.Core.Stores;

/// <summary>A store messages are read from.</summary>
public interface IMessageSource : IMailStore
{
    /// <summary>
    /// Summaries of just these messages of the current folder, in one UID FETCH; a UID the folder
    /// no longer has is simply absent. Lets a retry of a few failures skip listing a big folder.
    /// </summary>
    Task<IReadOnlyList<MessageInfo>> FetchSummariesAsync(IReadOnlyList<uint> uids, CancellationToken cancellationToken);

    /// <summary>
    /// Streams the raw bytes of the given messages of the current folder, in one command where the
    /// protocol allows. The stream is only valid during the callback.
    /// </summary>
    Task ReadMessagesAsync(IReadOnlyList<uint> uids, Func<uint, Stream, CancellationToken, Task> onMessage, CancellationToken cancellationToken);

    /// <summary>
    /// Flags and keywords of the current folder's messages whose mod-sequence is above
    /// <paramref name="sinceModSeq"/> (CONDSTORE's CHANGEDSINCE), in one UID FETCH: on a folder
    /// where a few flags changed this lists those few, not every message.
    /// </summary>
    Task<IReadOnlyList<FlagState>> FetchFlagChangesAsync(ulong sinceModSeq, CancellationToken cancellationToken);

    /// <summary>
    /// Flags and keywords of every message in the current folder, in one UID FETCH of flags only:
    /// how flag changes are found on a server without CONDSTORE, which cannot say what changed.
    /// </summary>
    Task<IReadOnlyList<FlagState>> FetchAllFlagsAsync(CancellationToken cancellationToken);
}
