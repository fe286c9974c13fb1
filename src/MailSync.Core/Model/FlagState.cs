using MailKit;

namespace MailSync.Core.Model;

/// <summary>A message's current flags and keywords, as a CHANGEDSINCE fetch reports them.</summary>
public sealed record FlagState(uint Uid, MessageFlags Flags, IReadOnlyCollection<string> Keywords);
