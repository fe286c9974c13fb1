using MailSync.Core.Model;

namespace MailSync.Core.Mapping;

/// <summary>
/// Whether a folder name a server listed can be carried to the other side faithfully. A name that
/// cannot (empty, with control characters, with bytes that decode to nothing, an empty or "." or
/// ".." level, deeper than <see cref="MaxLevels"/>) is skipped and reported by name with the
/// reason, and the rest of the account goes on; it is never created anywhere, so nothing lands
/// outside the target's own tree. Pure.
/// </summary>
public static class FolderNameCheck
{
    /// <summary>Deeper names are not carried: no real mailbox nests this far, and servers refuse them at different depths.</summary>
    public const int MaxLevels = 64;

    /// <summary>Why <paramref name="folder"/> cannot be carried, or null when it can.</summary>
    public static string? Problem(FolderInfo folder, NamespaceInfo ns)
    {
        var name = folder.FullName;
        if (name.Length == 0)
            return "its name is empty";
        foreach (var c in name)
        {
            if (Stores.ServerText.IsControl(c))
                return "its name has control characters";
            if (c == '\uFFFD')
                return "its name has bytes that are neither UTF-8 nor modified UTF-7";
        }

        if (LogicalPath.IsInbox(name))
            return null;
        var delimiter = folder.Delimiter != '\0' ? folder.Delimiter : ns.Delimiter;
        if (delimiter == '\0')
            return null;
        var prefix = LogicalPath.NormalizedPrefix(ns.Prefix, delimiter);
        var rest = prefix.Length > 0 && name.Length > prefix.Length && name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) ? name[prefix.Length..] : name;
        var levels = rest.Split(delimiter);
        if (levels.Any(l => l.Length == 0))
            return $"its name has an empty level (a leading, trailing or doubled \"{delimiter}\")";
        if (levels.Any(l => l is "." or ".."))
            return "its name has a \".\" or \"..\" level";
        if (levels.Length > MaxLevels)
            return $"its name is {levels.Length} levels deep, more than {MaxLevels}";
        return null;
    }
}
