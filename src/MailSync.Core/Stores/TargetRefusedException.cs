namespace MailSync.Core.Stores;

/// <summary>
/// The target answered NO or BAD to an APPEND: the outcome is known (nothing was stored), so the
/// message can be recorded as failed with the server's words instead of being reconciled.
/// </summary>
public sealed class TargetRefusedException(string serverText, Exception? inner = null)
    : Exception($"the target refused the message: {serverText}", inner)
{
    public string ServerText { get; } = serverText;
}
