using MailKit;

namespace MailSync.Core.Model;

/// <summary>
/// The state of an opened folder. <see cref="HighestModSeq"/> is null where the server has no
/// CONDSTORE; <see cref="AcceptsAnyKeyword"/> mirrors "\*" in PERMANENTFLAGS, and
/// <see cref="PermanentKeywords"/> lists the keywords the folder keeps even without it.
/// </summary>
public sealed record FolderStatus(
    string FullName,
    uint UidValidity,
    uint UidNext,
    ulong? HighestModSeq,
    int Count,
    MessageFlags PermanentFlags,
    bool AcceptsAnyKeyword,
    IReadOnlySet<string> PermanentKeywords);
