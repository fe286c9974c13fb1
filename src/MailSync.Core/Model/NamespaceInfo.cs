namespace MailSync.Core.Model;

/// <summary>
/// A store's personal namespace: the prefix every folder name carries ("INBOX." on Courier and
/// Cyrus, "" on Dovecot and Gmail) and the hierarchy delimiter.
/// </summary>
public sealed record NamespaceInfo(string Prefix, char Delimiter);
