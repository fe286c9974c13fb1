namespace MailSync.Tests.Infrastructure;

/// <summary>
/// A client command line as a <see cref="Pop3Proxy"/> saw it, before forwarding (SASL response lines of
/// an AUTH exchange are not commands and are not reported).
/// </summary>
/// <param name="ConnectionId">1-based number of the proxied connection, in accept order.</param>
/// <param name="Verb">The command keyword in upper case, e.g. "RETR".</param>
/// <param name="Line">The whole line without its line ending, as the client sent it (passwords included).</param>
/// <param name="InFlight">
/// Commands (the greeting included) already forwarded on this connection whose response had not been
/// fully relayed yet; above 0 means the client pipelined.
/// </param>
public sealed record Pop3ProxyCommand(int ConnectionId, string Verb, string Line, int InFlight);
