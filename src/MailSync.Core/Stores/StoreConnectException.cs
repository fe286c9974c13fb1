namespace MailSync.Core.Stores;

/// <summary>Connecting or logging in failed: an account-level problem (wrong password, TLS, unreachable host).</summary>
public sealed class StoreConnectException(string message, bool isAuthentication, Exception? inner = null) : Exception(message, inner)
{
    public bool IsAuthentication { get; } = isAuthentication;
}
