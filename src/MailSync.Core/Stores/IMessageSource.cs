namespace MailSync.Core.Stores;

/// <summary>A store messages are read from.</summary>
public interface IMessageSource : IMailStore
{
    /// <summary>
    /// Streams the raw bytes of the given messages of the current folder, in one command where the
    /// protocol allows. The stream is only valid during the callback.
    /// </summary>
    /// <param name="expectedBytes">Their total size, which sizes the command's time limit.</param>
    Task ReadMessagesAsync(IReadOnlyList<uint> uids, long expectedBytes, Func<uint, Stream, CancellationToken, Task> onMessage, CancellationToken cancellationToken);
}
