namespace MailSync.Core.Mapping;

/// <summary>
/// What the user asked of the folder tree. All paths are logical: segments joined with "/",
/// namespace prefix stripped, the inbox spelled "INBOX".
/// </summary>
/// <param name="Include">Glob patterns (see <see cref="FolderMapper.MatchesGlob"/>) a source path
/// must match to be copied; empty means every folder.</param>
/// <param name="Exclude">Glob patterns that drop a folder; exclude beats include.</param>
/// <param name="Renames">Source path to target path. A rule also moves the folder's descendants
/// ("Old" -> "New" maps "Old/Sub" to "New/Sub"); the longest matching source path wins. A rename
/// always wins over special-use role mapping.</param>
/// <param name="TargetPrefix">When set, the whole tree (renamed paths included) is placed under this
/// path verbatim, INBOX becomes "Prefix/INBOX", and role mapping is off: the user asked for a copy
/// kept apart, not for a merge into the target's own Sent/Trash.</param>
public sealed record FolderMappingOptions(
    IReadOnlyList<string> Include,
    IReadOnlyList<string> Exclude,
    IReadOnlyDictionary<string, string> Renames,
    string? TargetPrefix)
{
    /// <summary>Everything, unrenamed, merged by role: the default job.</summary>
    public static FolderMappingOptions Default { get; } =
        new([], [], new Dictionary<string, string>(), null);
}
