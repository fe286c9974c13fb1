namespace MailSync.Core.Model;

/// <summary>
/// A store's personal namespace: the prefix every folder name carries ("INBOX." on Courier and
/// Cyrus, "" on Dovecot and Gmail) and the hierarchy delimiter.
/// </summary>
/// <param name="Personal">
/// False when the server says NAMESPACE NIL for personal folders (a Cyrus user whose INBOX was
/// not created yet): the account holds no mailbox and none can be created in it.
/// </param>
public sealed record NamespaceInfo(string Prefix, char Delimiter, bool Personal = true);
