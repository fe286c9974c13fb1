using MailSync.Core.Resilience;

namespace MailSync.Core.Stores;

/// <summary>
/// A store command failed and the store has already decided what that means (DESIGN.md §4), with
/// the server's own last line in hand (MailKit drops response codes from its exceptions). The
/// engine reacts to <see cref="Classification"/> only: retry, skip the message or folder, or stop
/// the account.
/// </summary>
public sealed class StoreFailureException(FailureClassification classification, Exception? inner = null)
    : Exception(classification.Reason, inner)
{
    public FailureClassification Classification { get; } = classification;

    public FailureKind Kind => Classification.Kind;

    /// <summary>
    /// The retries for this failure are spent: outer layers must not start their own round of
    /// attempts (nested pipelines would multiply them).
    /// </summary>
    public bool GaveUp { get; init; }
}
