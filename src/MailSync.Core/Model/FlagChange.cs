using MailKit;

namespace MailSync.Core.Model;

/// <summary>
/// Flags and keywords to add to and remove from a set of target messages: the source's change
/// since the last sync, applied as a delta so flags set on the target meanwhile are kept.
/// </summary>
public sealed record FlagChange(MessageFlags Add, IReadOnlyList<string> AddKeywords, MessageFlags Remove, IReadOnlyList<string> RemoveKeywords)
{
    public bool IsEmpty => Add == MessageFlags.None && Remove == MessageFlags.None && AddKeywords.Count == 0 && RemoveKeywords.Count == 0;
}
