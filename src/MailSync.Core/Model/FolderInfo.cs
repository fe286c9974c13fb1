namespace MailSync.Core.Model;

/// <summary>
/// A folder as a store lists it: the server's full (decoded) name, its hierarchy delimiter
/// ('\0' when the server has a flat namespace), its special-use role as the server announces it
/// (attribute or XLIST; name-based guessing is the mapper's job, not the store's), and whether
/// it is subscribed and selectable; <see cref="Counters"/> when the listing carried STATUS.
/// </summary>
public sealed record FolderInfo(
    string FullName,
    char Delimiter,
    SpecialUse Role = SpecialUse.None,
    bool Subscribed = false,
    bool Selectable = true,
    FolderCounters? Counters = null);
