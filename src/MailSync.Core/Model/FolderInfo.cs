namespace MailSync.Core.Model;

/// <summary>
/// A folder as a store lists it: the server's full (decoded) name, its hierarchy delimiter
/// ('\0' when the server has a flat namespace), its special-use role as the server announces it
/// (attribute or XLIST; name-based guessing is the mapper's job, not the store's), and whether
/// it is subscribed and selectable; <see cref="Counters"/> when the listing carried STATUS;
/// <see cref="ListedAs"/>, the name as the server sent it, only when that was no proper IMAP name
/// (raw 8-bit bytes, broken modified UTF-7) and <see cref="FullName"/> is a reading of it.
/// </summary>
public sealed record FolderInfo(
    string FullName,
    char Delimiter,
    SpecialUse Role = SpecialUse.None,
    bool Subscribed = false,
    bool Selectable = true,
    FolderCounters? Counters = null,
    string? ListedAs = null);
