namespace MailSync.Core.Stores.Pop3;

/// <summary>
/// One message in a POP3 session: its position (0-based, valid for this session only), its
/// size, and its identity, which survives sessions: the UIDL, or a fingerprint.
/// </summary>
public sealed record Pop3Listing(int Index, long Size, string Key);
