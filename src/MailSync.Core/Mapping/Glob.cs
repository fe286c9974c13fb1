namespace MailSync.Core.Mapping;

/// <summary>
/// The IMAP LIST wildcard language over logical paths: '*' spans segments, '%' stays within one,
/// '?' is one character. Case-insensitive because users type "trash" for "Trash".
/// </summary>
internal static class Glob
{
    public static bool IsMatch(string pattern, string path)
    {
        // Dynamic programming over (pattern position, path position) instead of a regex: no escaping
        // of the many characters folder names may contain, and linear memory.
        var reachable = new bool[path.Length + 1];
        reachable[0] = true;
        foreach (var p in pattern)
        {
            var next = new bool[path.Length + 1];
            switch (p)
            {
                case '*':
                case '%':
                    var running = false;
                    for (var i = 0; i <= path.Length; i++)
                    {
                        // '%' cannot carry a match across a segment boundary.
                        if (p == '%' && i > 0 && path[i - 1] == '/')
                        {
                            running = false;
                        }

                        running |= reachable[i];
                        next[i] = running;
                    }

                    break;
                default:
                    for (var i = 0; i < path.Length; i++)
                    {
                        if (reachable[i] && (p == '?' || SameChar(p, path[i])))
                        {
                            next[i + 1] = true;
                        }
                    }

                    break;
            }

            reachable = next;
        }

        return reachable[path.Length];
    }

    private static bool SameChar(char a, char b) =>
        a == b || char.ToUpperInvariant(a) == char.ToUpperInvariant(b);
}
