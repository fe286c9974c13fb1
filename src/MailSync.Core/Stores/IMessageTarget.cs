using MailSync.Core.Model;

namespace MailSync.Core.Stores;

/// <summary>A store messages are written to.</summary>
public interface IMessageTarget : IMailStore
{
    /// <summary>
    /// The target takes binary literals (BINARY, RFC 3516), so a message with NUL bytes can be
    /// appended exactly. Known once connected.
    /// </summary>
    bool TakesBinary { get; }

    /// <summary>Creates the folder if it does not exist (parents must exist), and subscribes it when asked (the caller asks only when it is not yet).</summary>
    /// <remarks>
    /// A folder created with a <paramref name="role"/> other than none gets that special-use
    /// attribute where the server offers CREATE-SPECIAL-USE (RFC 6154), else it is created plain.
    /// </remarks>
    Task EnsureFolderAsync(string fullName, bool subscribe, SpecialUse role, CancellationToken cancellationToken);

    /// <summary>
    /// Appends to <paramref name="folder"/> (one MULTIAPPEND where the server has it) and returns
    /// the new UIDs, or nulls where the server did not say (no UIDPLUS). A refusal by the server
    /// throws <see cref="TargetRefusedException"/>; any other exception leaves the outcome unknown
    /// and the caller must reconcile before appending again.
    /// </summary>
    Task<IReadOnlyList<uint?>> AppendAsync(string folder, IReadOnlyList<AppendItem> items, CancellationToken cancellationToken);

    /// <summary>Applies <paramref name="change"/> to these messages of the current folder (opened for writing), silently.</summary>
    Task StoreFlagsAsync(IReadOnlyList<uint> uids, FlagChange change, CancellationToken cancellationToken);
}
