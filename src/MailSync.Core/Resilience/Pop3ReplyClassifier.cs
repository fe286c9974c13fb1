using System.Text.RegularExpressions;

namespace MailSync.Core.Resilience;

/// <summary>
/// Reads the response codes of a POP3 "-ERR" line (RFC 2449 §8: IN-USE, LOGIN-DELAY; RFC 3206:
/// SYS/TEMP, SYS/PERM, AUTH). A line without a code says nothing certain, so it is left to the
/// caller (after a login, that means wrong credentials).
/// </summary>
public static partial class Pop3ReplyClassifier
{
    public static FailureKind? Classify(string? reply)
    {
        var code = CodeOf(reply);
        if (code is null)
            return null;
        // Hierarchical codes (RFC 2449 §8): "SYS/TEMP/QUOTA" is still SYS/TEMP.
        if (code.StartsWith("IN-USE", StringComparison.OrdinalIgnoreCase)
            || code.StartsWith("LOGIN-DELAY", StringComparison.OrdinalIgnoreCase)
            || code.StartsWith("SYS/TEMP", StringComparison.OrdinalIgnoreCase))
            return FailureKind.Transient;
        if (code.StartsWith("AUTH", StringComparison.OrdinalIgnoreCase)
            || code.StartsWith("SYS/PERM", StringComparison.OrdinalIgnoreCase))
            return FailureKind.Account;
        return null;
    }

    /// <summary>The response code without brackets ("IN-USE"), or null.</summary>
    public static string? CodeOf(string? reply)
    {
        if (reply is null)
            return null;
        var match = CodePattern().Match(reply);
        return match.Success ? match.Groups[1].Value : null;
    }

    /// <summary>The human part of the line: without "-ERR" and the code.</summary>
    public static string TextOf(string reply)
    {
        var text = reply.StartsWith("-ERR", StringComparison.OrdinalIgnoreCase) ? reply[4..] : reply;
        text = text.Trim();
        var match = CodePattern().Match(reply);
        if (match.Success && text.StartsWith('['))
            text = text[(text.IndexOf(']', StringComparison.Ordinal) + 1)..].Trim();
        return text;
    }

    [GeneratedRegex(@"^-ERR\s+\[([^\]\s]+)\]", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex CodePattern();
}
