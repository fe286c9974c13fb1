namespace MailSync.Core.Stores;

/// <summary>
/// The server said "not now" (mailbox in use, login too soon, temporary system problem): worth
/// retrying later, never a reason to give up on the account at once.
/// </summary>
public sealed class ServerBusyException(string message, TimeSpan? suggestedDelay = null, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>How long the server asked us to wait (POP3 LOGIN-DELAY), when it said.</summary>
    public TimeSpan? SuggestedDelay { get; } = suggestedDelay;
}
