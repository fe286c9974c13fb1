namespace MailSync.Core.Stores;

/// <summary>
/// Bounds on what a server may send, so that no answer, however long, slow or endless, costs
/// unbounded memory or time (account options, see docs/config.md). Message bodies are not bound by
/// size: they are spooled to disk above a threshold; their time is bound by <see cref="MinBytesPerSecond"/>.
/// </summary>
public sealed record ServerLimits
{
    public const int DefaultResponseLineBytes = 16 * 1024 * 1024;
    public const long DefaultLiteralBytes = 16 * 1024 * 1024;
    public const int DefaultFolders = 20_000;
    public const int DefaultMessagesPerFolder = 10_000_000;
    public const int DefaultStatusResponsesPerCommand = 10_000;
    public const int DefaultMinBytesPerSecond = 16 * 1024;

    public static ServerLimits Default { get; } = new();

    /// <summary>
    /// Longest response line outside literals (<c>maxResponseLineBytes</c>). The longest real one
    /// is a SEARCH answer: about 8 bytes per message of a folder without ESEARCH.
    /// </summary>
    public int ResponseLineBytes { get; init; } = DefaultResponseLineBytes;

    /// <summary>Largest literal that is not a message body (<c>maxLiteralBytes</c>): a folder name, an envelope, a header block.</summary>
    public long LiteralBytes { get; init; } = DefaultLiteralBytes;

    /// <summary>Most folders one account may list (<c>maxFolders</c>).</summary>
    public int Folders { get; init; } = DefaultFolders;

    /// <summary>Most messages one folder may hold (<c>maxMessagesPerFolder</c>).</summary>
    public int MessagesPerFolder { get; init; } = DefaultMessagesPerFolder;

    /// <summary>
    /// Most untagged responses that carry no data (<c>* OK</c>, <c>* NO</c>, <c>* BAD</c>, unknown
    /// ones) while one command waits for its answer: a server sends a handful.
    /// </summary>
    public int StatusResponsesPerCommand { get; init; } = DefaultStatusResponsesPerCommand;

    /// <summary>
    /// Slowest a command's traffic may be, both ways, after the account's timeout as a grace: a
    /// command may take the timeout plus one second per this many bytes actually moved, so its
    /// deadline grows with what arrives, never with a size the server claims.
    /// </summary>
    public int MinBytesPerSecond { get; init; } = DefaultMinBytesPerSecond;
}
