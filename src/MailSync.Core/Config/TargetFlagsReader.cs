using System.Text;
using System.Text.Json;

namespace MailSync.Core.Config;

/// <summary>
/// Reads a job's "targetFlags": the IMAP flags every copy from a POP3 source gets on the target.
/// Each bad item is reported at its own index, so one run shows all of them.
/// </summary>
internal static class TargetFlagsReader
{
    private const string Name = "targetFlags";

    /// <summary>RFC 3501 atom-specials besides SP and CTL, which the 0x21-0x7E range already excludes.</summary>
    private const string AtomSpecials = "(){%*\"\\]";

    // \Deleted and \Recent are left out on purpose: see SystemFlagError.
    private static readonly string[] SystemFlags = ["\\Seen", "\\Answered", "\\Flagged", "\\Draft"];

    /// <returns>The flags in file order, system flags in their canonical spelling; empty when absent.</returns>
    public static IReadOnlyList<string> Read(JsonObjectReader json, List<ConfigError> errors)
    {
        if (json.Element(Name) is not { } value)
        {
            return [];
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            json.Error(Name, "must be an array of strings");
            return [];
        }

        var flags = new List<string>();

        // System flags are case-insensitive and many servers match keywords that way too: "$Work" and "$work" is a slip.
        var seen = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var index = 0;
        foreach (var item in value.EnumerateArray())
        {
            var location = ConfigPath.Index(json.At(Name), index++);
            var (flag, error) = Check(item);
            if (error is not null)
            {
                errors.Add(new ConfigError(location, error));
            }
            else if (!seen.TryAdd(flag!, location))
            {
                errors.Add(new ConfigError(location, $"\"{flag}\" is given more than once (also at {seen[flag!]})"));
            }
            else
            {
                flags.Add(flag!);
            }
        }

        return flags.AsReadOnly();
    }

    /// <returns>The flag to store, or the reason it is refused.</returns>
    private static (string? Flag, string? Error) Check(JsonElement item)
    {
        if (item.ValueKind != JsonValueKind.String)
        {
            return (null, "must be a string");
        }

        var text = item.GetString()!;
        if (string.IsNullOrWhiteSpace(text))
        {
            return (null, "must not be empty");
        }

        if (text.StartsWith('\\'))
        {
            var canonical = SystemFlags.FirstOrDefault(f => string.Equals(f, text, StringComparison.OrdinalIgnoreCase));
            return canonical is not null ? (canonical, null) : (null, SystemFlagError(text));
        }

        foreach (var rune in text.EnumerateRunes())
        {
            if (rune.Value is < 0x21 or > 0x7E || AtomSpecials.Contains((char)rune.Value))
            {
                return (null, $"\"{text}\" is not a valid IMAP keyword: {Describe(rune)} is not allowed (a keyword is printable ASCII without spaces or any of ( ) {{ % * \" \\ ])");
            }
        }

        return (text, null);
    }

    private static string SystemFlagError(string text)
    {
        if (string.Equals(text, "\\Deleted", StringComparison.OrdinalIgnoreCase))
        {
            return "\"\\Deleted\" cannot be set: it would mark every copy for removal at the target's next expunge";
        }

        if (string.Equals(text, "\\Recent", StringComparison.OrdinalIgnoreCase))
        {
            return "\"\\Recent\" cannot be set: only the server sets it, on messages new to a mailbox";
        }

        return $"\"{text}\" is not a system flag a copy can get; use \"\\Seen\", \"\\Answered\", \"\\Flagged\" or \"\\Draft\", or a keyword (no leading \"\\\")";
    }

    private static string Describe(Rune rune) => rune.Value switch
    {
        ' ' => "a space",
        < 0x21 or > 0x7E => $"U+{rune.Value:X4}",
        _ => $"\"{rune}\"",
    };
}
