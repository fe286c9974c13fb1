namespace MailSync.Core.Stores;

/// <summary>Connecting or logging in failed: an account-level problem, with <see cref="Failure"/> telling which.</summary>
public sealed class StoreConnectException(string message, StoreConnectFailure failure, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>For callers that only tell a refused login from everything else.</summary>
    public StoreConnectException(string message, bool isAuthentication, Exception? inner = null)
        : this(message, isAuthentication ? StoreConnectFailure.Authentication : StoreConnectFailure.Other, inner)
    {
    }

    public StoreConnectFailure Failure { get; } = failure;

    public bool IsAuthentication => Failure == StoreConnectFailure.Authentication;
}
