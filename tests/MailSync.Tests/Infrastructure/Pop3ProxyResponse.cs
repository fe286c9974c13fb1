namespace MailSync.Tests.Infrastructure;

/// <summary>A complete server response a <see cref="Pop3Proxy"/> has just relayed (and flushed) to the client.</summary>
/// <param name="ConnectionId">1-based number of the proxied connection, in accept order.</param>
/// <param name="CommandVerb">
/// Upper-case keyword of the client command it answers ("UIDL" even when the proxy rewrote it);
/// null for the greeting or a line nobody asked for.
/// </param>
/// <param name="StatusLine">First line without its line ending, e.g. "+OK 1234 octets".</param>
/// <param name="IsMultiLine">Whether a dot-terminated body followed the status line.</param>
/// <param name="Bytes">Bytes relayed to the client for this response, line endings and terminator included.</param>
public sealed record Pop3ProxyResponse(int ConnectionId, string? CommandVerb, string StatusLine, bool IsMultiLine, long Bytes);
