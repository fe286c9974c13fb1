using MailSync.Core.Model;

namespace MailSync.Core.Mapping;

/// <summary>
/// Folder names that clients and providers use for special-use folders, for servers that announce
/// no SPECIAL-USE/XLIST attributes (MailKit's GetFolder(SpecialFolder) throws there).
/// </summary>
internal static class SpecialUseNames
{
    /// <summary>The Gmail containers that hold the system folders, by locale (Google Mail in DE/UK).</summary>
    private static readonly string[] GmailContainers = ["[Gmail]", "[Google Mail]"];

    private static readonly Dictionary<string, SpecialUse> TopLevel = Build(
        (SpecialUse.Sent, ["Sent", "Sent Items", "Sent Messages", "Sent Mail", "Gesendet",
            "Gesendete Objekte", "Éléments envoyés", "Elementos enviados", "Posta inviata"]),
        (SpecialUse.Drafts, ["Drafts", "Draft", "Entwürfe", "Brouillons", "Borradores"]),
        (SpecialUse.Trash, ["Trash", "Deleted Items", "Deleted Messages", "Bin", "Papierkorb",
            "Corbeille", "Papelera"]),
        (SpecialUse.Junk, ["Junk", "Junk E-mail", "Junk Email", "Spam", "Bulk Mail", "Junk-E-Mail"]),
        (SpecialUse.Archive, ["Archive", "Archives", "Archiv"]));

    // Only meaningful inside the Gmail container: a user's own top-level "Important" is just a folder.
    private static readonly Dictionary<string, SpecialUse> GmailOnly = Build(
        (SpecialUse.All, ["All Mail"]),
        (SpecialUse.Flagged, ["Starred"]),
        (SpecialUse.Important, ["Important"]));

    /// <summary>The name a role gets on a target that has no folder for it.</summary>
    public static string StandardName(SpecialUse role) => role switch
    {
        SpecialUse.Sent => "Sent",
        SpecialUse.Drafts => "Drafts",
        SpecialUse.Trash => "Trash",
        SpecialUse.Junk => "Junk",
        SpecialUse.Archive => "Archive",
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, "no standard name"),
    };

    /// <summary>Roles that are real folders and are merged onto the target's folder of that role.</summary>
    public static bool IsMappedByRole(SpecialUse role) =>
        role is SpecialUse.Sent or SpecialUse.Drafts or SpecialUse.Trash or SpecialUse.Junk or SpecialUse.Archive;

    /// <summary>Roles Gmail computes from labels and flags rather than storing messages in.</summary>
    public static bool IsVirtual(SpecialUse role) =>
        role is SpecialUse.All or SpecialUse.Flagged or SpecialUse.Important;

    public static SpecialUse Guess(IReadOnlyList<string> segments)
    {
        if (segments.Count == 1)
        {
            if (LogicalPath.IsInbox(segments[0]))
            {
                return SpecialUse.Inbox;
            }

            return TopLevel.GetValueOrDefault(segments[0]);
        }

        if (segments.Count == 2 && GmailContainers.Contains(segments[0], StringComparer.OrdinalIgnoreCase))
        {
            return GmailOnly.TryGetValue(segments[1], out var gmail)
                ? gmail
                : TopLevel.GetValueOrDefault(segments[1]);
        }

        return SpecialUse.None;
    }

    private static Dictionary<string, SpecialUse> Build(params (SpecialUse Role, string[] Names)[] table)
    {
        var map = new Dictionary<string, SpecialUse>(StringComparer.OrdinalIgnoreCase);
        foreach (var (role, names) in table)
        {
            foreach (var name in names)
            {
                map.Add(name, role);
            }
        }

        return map;
    }
}
