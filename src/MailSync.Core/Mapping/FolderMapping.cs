using MailSync.Core.Model;

namespace MailSync.Core.Mapping;

/// <summary>One source folder and where its messages go on the target.</summary>
/// <param name="Source">The source folder. For a parent that only has to exist on the target and
/// has no source counterpart, a placeholder with an empty name that is not selectable.</param>
/// <param name="SourcePath">Logical source path ("Archive/2020", "INBOX"); empty for a placeholder
/// parent.</param>
/// <param name="TargetName">The full mailbox name to use on the target (namespace prefix and
/// segments joined with the target delimiter); this is authoritative for CREATE/SELECT.</param>
/// <param name="TargetSegments">The target path as segments, after any character replacement.</param>
/// <param name="Role">The special-use role the folder was mapped by; None when mapped by name.</param>
/// <param name="Subscribe">Subscribe on the target: as on the source, always for INBOX, never for a
/// parent created only because a child needs it.</param>
public sealed record FolderMapping(
    FolderInfo Source,
    string SourcePath,
    string TargetName,
    IReadOnlyList<string> TargetSegments,
    SpecialUse Role,
    bool Subscribe);
