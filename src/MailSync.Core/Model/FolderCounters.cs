namespace MailSync.Core.Model;

/// <summary>
/// A folder's STATUS as the listing returned it (LIST-STATUS, RFC 5819): enough to tell that
/// nothing arrived and nothing changed since the last complete pass without selecting the
/// folder. <see cref="HighestModSeq"/> is null where the server has no CONDSTORE.
/// </summary>
public sealed record FolderCounters(uint UidValidity, uint UidNext, ulong? HighestModSeq, int Count);
