namespace MailSync.Core.Stores;

/// <summary>
/// The server broke IMAP's rules or one of the account's <see cref="ServerLimits"/>: a response
/// line or literal past its cap, a flood of untagged responses, a command far slower than its
/// traffic allows, an absurd count. The connection is dropped (its state is unknown); the message
/// names the server (<c>user@host:port</c>), what it did and the option that bounds it. An <see cref="IOException"/>, so
/// MailKit treats it as the connection failing under it.
/// </summary>
public sealed class ServerMisbehavedException(string message) : IOException(message);
