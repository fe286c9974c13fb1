namespace MailSync.Core.Config;

/// <summary>Builds the JSON-path-like locations of <see cref="ConfigError"/>s, e.g. <c>jobs[0].renames["Old/Path"]</c>.</summary>
internal static class ConfigPath
{
    public static string Member(string parent, string name)
    {
        if (name.Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
        {
            return parent.Length == 0 ? name : $"{parent}.{name}";
        }

        // Names with dots, slashes or spaces (folder paths, odd account names) would make a dotted path ambiguous.
        var quoted = name.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);
        return $"{parent}[\"{quoted}\"]";
    }

    public static string Index(string parent, int index) => $"{parent}[{index}]";
}
