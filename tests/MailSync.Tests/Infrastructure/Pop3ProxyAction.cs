namespace MailSync.Tests.Infrastructure;

/// <summary>What a <see cref="Pop3Proxy"/> hook wants done with the connection it was called for.</summary>
public enum Pop3ProxyAction
{
    /// <summary>Carry on relaying.</summary>
    Continue,

    /// <summary>
    /// Close both sides at once with a TCP reset. From <see cref="Pop3Proxy.OnClientCommand"/> the command
    /// is not forwarded; from <see cref="Pop3Proxy.OnServerResponse"/> the response has already been relayed.
    /// </summary>
    Cut,
}
