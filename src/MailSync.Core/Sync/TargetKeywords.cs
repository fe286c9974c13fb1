namespace MailSync.Core.Sync;

/// <summary>
/// What one target folder does with keywords during a run: which it already holds (its
/// PERMANENTFLAGS at SELECT, and every keyword appended since), and whether it has refused new
/// ones (Cyrus: "NO Too many user flags in mailbox", a limit of 100 per mailbox). Once it has,
/// new keywords are left off the messages still to be appended, and named as dropped, instead of
/// each costing a refused APPEND. Changed only by the folder's own copier (one at a time).
/// </summary>
internal sealed class TargetKeywords(IEnumerable<string> held, bool acceptsAny)
{
    private readonly HashSet<string> _held = new(held, StringComparer.OrdinalIgnoreCase);

    /// <summary>The folder takes keywords it does not hold yet (PERMANENTFLAGS has "\*", and no refusal came).</summary>
    public bool TakesNew { get; private set; } = acceptsAny;

    /// <summary>Splits <paramref name="keywords"/> into those to send and those the folder will not take.</summary>
    public (List<string> Send, List<string> Dropped) Filter(IEnumerable<string> keywords)
    {
        var send = new List<string>();
        var dropped = new List<string>();
        foreach (var keyword in keywords)
            (TakesNew || _held.Contains(keyword) ? send : dropped).Add(keyword);
        return (send, dropped);
    }

    /// <summary>These keywords are on the folder now (an APPEND or STORE with them succeeded).</summary>
    public void Held(IEnumerable<string> keywords) => _held.UnionWith(keywords);

    /// <summary>The folder refused new keywords: from now on only those it holds are sent.</summary>
    public void Full() => TakesNew = false;

    /// <summary>
    /// Whether a refusal's text says the folder has no room for more keywords. Cyrus: "Too many
    /// user flags in mailbox"; other servers word a keyword limit with "flags" or "keywords" too.
    /// </summary>
    public static bool IsKeywordLimit(string serverText)
        => serverText.Contains("user flags", StringComparison.OrdinalIgnoreCase)
            || serverText.Contains("too many flags", StringComparison.OrdinalIgnoreCase)
            || serverText.Contains("too many keywords", StringComparison.OrdinalIgnoreCase);
}
