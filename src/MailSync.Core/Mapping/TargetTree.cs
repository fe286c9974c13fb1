using MailSync.Core.Model;

namespace MailSync.Core.Mapping;

/// <summary>
/// The target's existing folders, indexed for the two questions the mapper asks: which folder plays
/// a role, and does a name already exist.
/// </summary>
internal sealed class TargetTree
{
    private readonly List<(FolderInfo Folder, string[] Segments)> selectable = [];
    private readonly HashSet<string> names = new(StringComparer.Ordinal);

    public TargetTree(IReadOnlyList<FolderInfo> folders, NamespaceInfo ns)
    {
        foreach (var folder in folders)
        {
            names.Add(folder.FullName);
            if (folder.Selectable)
            {
                selectable.Add((folder, LogicalPath.Segments(folder, ns)));
            }
        }
    }

    public bool Exists(string fullName) => LogicalPath.IsInbox(fullName) || names.Contains(fullName);

    /// <summary>
    /// The target folder for a role: one the server marks with the attribute, else one whose name
    /// is a known name for it; null when the target has neither.
    /// </summary>
    public (FolderInfo Folder, string[] Segments)? FolderFor(SpecialUse role)
    {
        var byAttribute = selectable.Where(t => t.Folder.Role == role).ToList();
        var candidates = byAttribute.Count > 0
            ? byAttribute
            : selectable.Where(t => SpecialUseNames.Guess(t.Segments) == role).ToList();
        if (candidates.Count == 0)
        {
            return null;
        }

        // Several candidates (an Outlook "Sent Items" next to a Dovecot "Sent"): prefer the plain
        // English name clients create by default, then a top-level folder, then a stable order.
        var standard = SpecialUseNames.StandardName(role);
        return candidates
            .OrderBy(t => t.Segments.Length == 1 && string.Equals(t.Segments[0], standard, StringComparison.OrdinalIgnoreCase) ? 0 : 1)
            .ThenBy(t => t.Segments.Length)
            .ThenBy(t => t.Folder.FullName, StringComparer.Ordinal)
            .First();
    }
}
