namespace MailSync.Core.Checkpoints;

/// <summary>
/// The checkpoint database cannot be used (damaged, not ours, newer schema, locked by another
/// run). The run must stop: recreating it would forget what was copied and duplicate mail.
/// </summary>
public sealed class LedgerException(string message, Exception? inner = null) : Exception(message, inner);
